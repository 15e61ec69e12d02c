"""The Python SDK of MemBank: `MemBank` (sync) and `AsyncMemBank` (asyncio), twins over httpx.

    from membank.client import MemBank
    with MemBank("http://127.0.0.1:8080", api_key="mbk_...") as client:
        client.memories.create("alice", "Alice prefers aisle seats")
        hits = client.memories.search("alice", "where does Alice like to sit").memories

Every operation of the API is one method of a sub-client (docs/sdk.md); `OPERATIONS` lists them as
(METHOD, OpenAPI path template) pairs, read from the declarations the methods are made of. Errors are
`MemBankError` and its subclasses, one per error code."""

from membank.client import errors, models
from membank.client.aio import AsyncMemBank
from membank.client.base import operations
from membank.client.errors import *  # noqa: F403 (the error classes are the SDK's public API)
from membank.client.models import *  # noqa: F403 (so are the models)
from membank.client.signing import sign_request
from membank.client.sync import MemBank
from membank.client.transport import RetryPolicy

OPERATIONS: list[tuple[str, str]] = operations()

__all__ = [
    "OPERATIONS",
    "AsyncMemBank",
    "MemBank",
    "RetryPolicy",
    "sign_request",
    *errors.__all__,
    *models.__all__,
]
