"""Sealing secrets the service must read back (TOTP secrets, JWT private keys) with AES-256-GCM."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from membank.errors import MemBankError

_VERSION = "v1"
_NONCE_BYTES = 12


class SecretBoxError(MemBankError):
    """A sealed secret cannot be opened: another key sealed it, or it was altered."""


def decode_key(text: str) -> bytes:
    """A 32-byte key from its base64 text; ValueError when it is not one."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ValueError("MEMBANK_AUTH_SECRET_KEY must be base64") from None
    if len(key) != 32:
        raise ValueError("MEMBANK_AUTH_SECRET_KEY must decode to 32 bytes (`openssl rand -base64 32`)")
    return key


def load_or_create_key(path: Path) -> bytes:
    """The key in `path`, created (mode 0600) when missing: the embedded default without settings."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
    return decode_key(path.read_text())


class SecretBox:
    """seal(plain) -> "v1.<nonce>.<ciphertext>" text; open_(text) -> plain. `context` binds a sealed value
    to what it belongs to (an account id, a key id), so a value copied onto another row does not open."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain, context.encode())
        return ".".join((_VERSION, _b64(nonce), _b64(sealed)))

    def open_(self, text: str, *, context: str) -> bytes:
        try:
            version, nonce, sealed = text.split(".")
            if version != _VERSION:
                raise ValueError(version)
            return self._aead.decrypt(_unb64(nonce), _unb64(sealed), context.encode())
        except (ValueError, InvalidTag, binascii.Error):
            raise SecretBoxError(
                "a sealed secret cannot be opened: MEMBANK_AUTH_SECRET_KEY differs from the key that sealed it"
            ) from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
