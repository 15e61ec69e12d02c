"""Ports (Protocols) and one folder per backend."""
