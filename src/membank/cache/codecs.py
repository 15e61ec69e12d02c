"""How cached values become bytes for the shared cache, and how foreign bytes are refused.

Every stored value is framed as `MB1` + a one-byte codec tag + an 8-byte BLAKE2b digest of (key, payload) +
the payload. A value that is not ours, was truncated, belongs to another key or another codec fails
`decode` with ValueError, which the cache counts as a miss: garbage in Redis is never served.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

__all__ = ["Codec", "JsonCodec", "VectorCodec"]

T = TypeVar("T")
_MAGIC = b"MB1"
_DIGEST = 8


class Codec(Protocol[T]):
    """Turns a value into framed bytes and back; `decode` raises ValueError on anything it did not make."""

    def encode(self, key: str, value: T) -> bytes: ...

    def decode(self, key: str, data: bytes) -> T: ...


def _digest(tag: bytes, key: str, payload: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST)
    h.update(tag)
    h.update(key.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(payload)
    return h.digest()


def _frame(tag: bytes, key: str, payload: bytes) -> bytes:
    return _MAGIC + tag + _digest(tag, key, payload) + payload


def _unframe(tag: bytes, key: str, data: bytes) -> bytes:
    head = len(_MAGIC) + 1
    if len(data) < head + _DIGEST or data[: len(_MAGIC)] != _MAGIC or data[len(_MAGIC) : head] != tag:
        raise ValueError("not a value of this cache")
    payload = data[head + _DIGEST :]
    if data[head : head + _DIGEST] != _digest(tag, key, payload):
        raise ValueError("the value does not match its key")
    return payload


class VectorCodec:
    """float32 vectors of `dim` dimensions, decoded as read-only arrays."""

    _TAG = b"v"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def encode(self, key: str, value: npt.NDArray[np.float32]) -> bytes:
        return _frame(self._TAG, key, np.asarray(value, dtype="<f4").tobytes())

    def decode(self, key: str, data: bytes) -> npt.NDArray[np.float32]:
        payload = _unframe(self._TAG, key, data)
        if len(payload) != self.dim * 4:
            raise ValueError("a vector of another dimension")
        vector = np.frombuffer(payload, dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(vector)):
            raise ValueError("a vector with non-finite values")
        vector.flags.writeable = False
        return vector


class JsonCodec:
    """JSON values (dicts and lists of plain data)."""

    _TAG = b"j"

    def encode(self, key: str, value: Any) -> bytes:
        return _frame(self._TAG, key, orjson.dumps(value))

    def decode(self, key: str, data: bytes) -> Any:
        try:
            return orjson.loads(_unframe(self._TAG, key, data))
        except orjson.JSONDecodeError as exc:
            raise ValueError("not JSON") from exc
