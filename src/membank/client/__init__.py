"""The Python SDK: a thin, typed client of the MemBank HTTP API."""

from membank.client.sync import MemBankAPIError, MemBankClient

__all__ = ["MemBankAPIError", "MemBankClient"]
