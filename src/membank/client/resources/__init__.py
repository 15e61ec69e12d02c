"""The operations of the API, grouped by resource area (one module per area)."""
