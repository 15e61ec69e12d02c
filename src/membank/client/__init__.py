"""The Python SDK: a thin, typed client of the MemBank HTTP API."""

from membank.client.signing import sign_request
from membank.client.sync import MemBankAPIError, MemBankClient

__all__ = ["MemBankAPIError", "MemBankClient", "sign_request"]
