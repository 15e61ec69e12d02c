"""Hybrid retrieval: filters, fusion, scoring."""
