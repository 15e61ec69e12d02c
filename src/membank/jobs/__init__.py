"""Durable jobs: enqueue, the worker loop, job endpoints."""
