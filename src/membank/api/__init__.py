"""The HTTP API."""

from membank.api.app import create_app

__all__ = ["create_app"]
