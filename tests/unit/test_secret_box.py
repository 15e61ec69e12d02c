"""Sealed secrets open only with the key and the context they were sealed with."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from membank.auth.secret_box import SecretBox, SecretBoxError, decode_key, load_or_create_key
from membank.config import Settings


def test_a_sealed_secret_opens_with_its_key_and_context_only(tmp_path: Path) -> None:
    box = SecretBox(load_or_create_key(tmp_path / "k"))
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", context="account-1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed.encode()
    assert box.open_(sealed, context="account-1") == b"JBSWY3DPEHPK3PXP"
    assert box.seal(b"same", context="a") != box.seal(b"same", context="a")  # fresh nonce each time
    with pytest.raises(SecretBoxError, match="cannot be opened"):
        box.open_(sealed, context="account-2")  # copied onto another row
    with pytest.raises(SecretBoxError):
        SecretBox(load_or_create_key(tmp_path / "other")).open_(sealed, context="account-1")
    with pytest.raises(SecretBoxError):
        box.open_(sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1], context="account-1")
    with pytest.raises(SecretBoxError):
        box.open_("not sealed", context="account-1")


def test_the_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "auth-secret.key"
    first = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == first and len(first) == 32


def test_a_configured_key_must_be_32_bytes_of_base64() -> None:
    good = base64.b64encode(bytes(range(32))).decode()
    assert decode_key(good) == bytes(range(32))
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match="MEMBANK_AUTH_SECRET_KEY"):
            decode_key(bad)
        with pytest.raises(ValidationError) as raised:
            Settings(auth_secret_key=bad)
        assert bad not in str(raised.value)  # a secret is never quoted back
    assert Settings(auth_secret_key=good).auth_secret_key is not None
