"""The Ed25519 keys that sign access tokens: made on first need, rotated on demand, published as JWKS."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from membank.auth.secret_box import SecretBox
from membank.storage.ports.signing_keys import SigningKeyRecord, SigningKeyRepository

ALGORITHM = "EdDSA"
# An unknown kid makes an instance read the keys again (another instance may have rotated), at most this
# often: a flood of tokens with made-up kids costs one read a second, not one per request.
_REFETCH_AT_MOST_EVERY_SECONDS = 1.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SigningKeys:
    """The signing keys every instance shares through the store. The newest key not retired signs; every key
    not yet retired verifies, so tokens signed before a rotation stay valid until they expire.

    Keys are cached for `cache_seconds` (a rotation elsewhere is seen by then, and a token naming a key made
    elsewhere makes this instance read again at once). A rotation retires the old keys `retire_after`
    seconds later: the access-token TTL plus that cache time plus the leeway, so no token any instance
    signed with them outlives them."""

    def __init__(
        self,
        keys: SigningKeyRepository,
        box: SecretBox,
        *,
        retire_after: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._box = box
        self._retire_after = retire_after
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[SigningKeyRecord] = []
        self._verifiers: dict[str, Ed25519PublicKey] = {}
        self._signer: tuple[str, Ed25519PrivateKey] | None = None
        self._read_at = float("-inf")
        self._unknown_kid_read_at = float("-inf")

    def signer(self) -> tuple[str, Ed25519PrivateKey]:
        """(kid, private key) of the key that signs now, made when there is none yet."""
        self._refresh_if_stale()
        signer = self._signer
        if signer is None:
            now = self._clock()
            self._keys.add_first(self._new_key(now), now)
            self._refresh()
            signer = self._signer
            assert signer is not None  # add_first left one key that may sign
        return signer

    def verifier(self, kid: str) -> Ed25519PublicKey | None:
        """The public key of `kid` when it may verify now; None when unknown or retired."""
        self._refresh_if_stale()
        if (
            kid not in self._verifiers
            and self._clock() - self._unknown_kid_read_at >= _REFETCH_AT_MOST_EVERY_SECONDS
        ):
            self._unknown_kid_read_at = self._clock()
            self._refresh()
        record = next((r for r in self._records if r.kid == kid), None)
        if record is None or (record.retired_at is not None and record.retired_at <= self._clock()):
            return None
        return self._verifiers.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of every key that verifies now."""
        self.signer()  # a fresh deployment publishes the key it is about to sign with
        now = self._clock()
        live = [r for r in self._records if r.retired_at is None or r.retired_at > now]
        return {"keys": [r.public_jwk for r in live]}

    def rotate(self) -> tuple[str, list[str]]:
        """Make a new signing key; (its kid, the kids whose retirement it scheduled)."""
        now = self._clock()
        key = self._new_key(now)
        retiring = self._keys.rotate(key, retire_at=now + self._retire_after)
        self._refresh()
        return key.kid, retiring

    def _new_key(self, now: float) -> SigningKeyRecord:
        kid = f"{time.strftime('%Y%m%d', time.gmtime(now))}-{secrets.token_hex(6)}"
        private = Ed25519PrivateKey.generate()
        raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw_public),
            "kid": kid,
            "alg": ALGORITHM,
            "use": "sig",
        }
        return SigningKeyRecord(
            kid=kid,
            algorithm=ALGORITHM,
            private_key=self._box.seal(raw_private, context=kid),
            public_jwk=jwk,
            created_at=now,
        )

    def _refresh_if_stale(self) -> None:
        if self._clock() - self._read_at >= self._cache_seconds:
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            now = self._clock()
            records = self._keys.usable(now)
            verifiers = {
                r.kid: self._verifiers.get(r.kid)
                or Ed25519PublicKey.from_public_bytes(_unb64url(r.public_jwk["x"]))
                for r in records
            }
            signing = next((r for r in records if r.retired_at is None), None)
            signer = self._signer
            if signing is None:
                signer = None
            elif signer is None or signer[0] != signing.kid:
                raw = self._box.open_(signing.private_key, context=signing.kid)
                signer = (signing.kid, Ed25519PrivateKey.from_private_bytes(raw))
            self._records, self._verifiers, self._signer, self._read_at = records, verifiers, signer, now
