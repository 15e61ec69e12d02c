"""Principals and API keys (users, JWT, RBAC and rate limits come later)."""
