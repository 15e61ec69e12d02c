"""Access tokens: short-lived JWTs (EdDSA) naming an account, its tenant and its login session."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from membank.auth.signing import ALGORITHM, SigningKeys
from membank.errors import Unauthorized

_REQUIRED_CLAIMS = ["iss", "aud", "sub", "tid", "sid", "iat", "nbf", "exp", "jti"]
# At most this many verified tokens are remembered per process (forgotten all at once when full).
_VERIFIED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says. The session and account rows stay the authority on whether it
    still holds (revocation, status, roles): the token only names them."""

    account_id: str
    tenant_id: str
    session_id: str
    token_id: str
    expires_at: float
    not_before: float


def looks_like_jwt(presented: str) -> bool:
    """Whether a bearer is shaped like a JWT (three base64url parts; API keys have no dots)."""
    return presented.count(".") == 2 and presented.startswith("eyJ")


class AccessTokens:
    """Issues and verifies access tokens. Verification pins EdDSA (so `alg: none` and an HS256 token keyed
    with a public key are refused before any key is used), requires a known kid, and checks iss, aud, exp,
    nbf and iat with `leeway` seconds of clock skew."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        leeway_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        self._leeway = leeway_seconds
        self._clock = clock
        # Tokens verified before, by their exact text: a request path check of a known token skips parsing
        # and the signature (every use still checks its times and that its key still verifies).
        self._verified: dict[str, tuple[str, AccessClaims]] = {}

    def issue(self, *, account_id: str, tenant_id: str, session_id: str, mfa_at: float | None) -> str:
        """A signed access token for this session, valid for the TTL from now."""
        kid, private_key = self._keys.signer()
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": account_id,
            "tid": tenant_id,
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "amr": ["pwd", "otp"] if mfa_at is not None else ["pwd"],
        }
        if mfa_at is not None:
            claims["mfa_at"] = int(mfa_at)
        return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; Unauthorized saying what is wrong (never echoing the token)."""
        remembered = self._verified.get(token)
        if remembered is not None and self._still_valid(*remembered):
            return remembered[1]
        kid, claims = self._verify(token)
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (kid, claims)
        return claims

    def _still_valid(self, kid: str, claims: AccessClaims) -> bool:
        # What a signature proves cannot change for the same text; what time and key retirement decide can.
        now = self._clock()
        in_time = claims.not_before - self._leeway <= now < claims.expires_at + self._leeway
        return in_time and self._keys.verifier(kid) is not None

    def _verify(self, token: str) -> tuple[str, AccessClaims]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("malformed access token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"access tokens must be signed with {ALGORITHM}")
        kid = header.get("kid")
        key = self._keys.verifier(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("access token signed by an unknown or retired key")
        assert isinstance(kid, str)  # a key was found for it
        claims = decode_verified(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            required=_REQUIRED_CLAIMS,
        )
        return kid, _claims(claims)


def decode_verified(
    token: str,
    key: Any,
    *,
    algorithms: list[str],
    audience: str,
    issuer: str,
    leeway: float,
    required: list[str],
) -> dict[str, Any]:
    """The claims of a token signed by `key` with one of `algorithms`, for `audience` from `issuer`, inside
    its validity; Unauthorized saying which check failed otherwise (ours and the SSO issuer's tokens alike)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("access token expired") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized("access token not valid yet") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("access token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("access token from another issuer") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid access token") from None
    return claims


def _claims(claims: dict[str, object]) -> AccessClaims:
    sub, tid, sid, jti, exp, nbf, iat = (
        claims.get(name) for name in ("sub", "tid", "sid", "jti", "exp", "nbf", "iat")
    )
    if not all(isinstance(value, str) and value for value in (sub, tid, sid, jti)) or not all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in (exp, nbf, iat)
    ):
        raise Unauthorized("invalid access token claims")
    assert isinstance(sub, str) and isinstance(tid, str) and isinstance(sid, str) and isinstance(jti, str)
    assert isinstance(exp, int | float) and isinstance(nbf, int | float) and isinstance(iat, int | float)
    return AccessClaims(
        account_id=sub,
        tenant_id=tid,
        session_id=sid,
        token_id=jti,
        expires_at=float(exp),
        not_before=float(max(nbf, iat)),
    )
