"""Capacity and cost: per-tenant usage, monthly reports, capacity forecasts and recommendations."""
