"""Single sign-on: access tokens of an external OIDC issuer, verified against its JWKS and mapped to a
principal by claims (tenant by name, roles, bound end users)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from membank.auth.rbac import RoleCatalog
from membank.auth.tokens import decode_verified
from membank.errors import Unauthorized
from membank.models import Principal
from membank.storage.ports import KeyRepository

# Roles an identity provider may not grant: acting across tenants stays with our own accounts and keys.
_NOT_FROM_SSO = frozenset({"platform-admin"})


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    jwks_url: str
    audience: str
    algorithms: Sequence[str]
    tenant_claim: str
    roles_claim: str
    user_ids_claim: str
    cache_seconds: float
    refetch_seconds: float
    timeout_seconds: float
    leeway_seconds: int


class IssuerKeys:
    """The issuer's JWKS, fetched with httpx and cached; an unknown kid fetches again, rate limited (a
    stream of made-up kids costs one fetch per `refetch_seconds`)."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._unknown_kid_fetched_at = float("-inf")

    def key(self, kid: str) -> jwt.PyJWK | None:
        now = self._clock()
        if now - self._fetched_at >= self._settings.cache_seconds:
            self._fetch()
        elif kid not in self._keys and now - self._unknown_kid_fetched_at >= self._settings.refetch_seconds:
            self._unknown_kid_fetched_at = now
            self._fetch()
        return self._keys.get(kid)

    def _fetch(self) -> None:
        with self._lock:
            try:
                response = httpx.get(self._settings.jwks_url, timeout=self._settings.timeout_seconds)
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError):
                # The old keys keep serving when the issuer is briefly unreachable; retried after the refetch time.
                self._fetched_at = (
                    self._clock() - self._settings.cache_seconds + self._settings.refetch_seconds
                )
                raise Unauthorized("the identity provider's keys cannot be fetched") from None
            self._keys = {k.key_id: k for k in key_set.keys if k.key_id}
            self._fetched_at = self._clock()


class OidcVerifier:
    """Verifies an external issuer's tokens: the configured asymmetric algorithms only, its iss and our
    aud, exp/nbf with leeway, a kid of its JWKS; then maps the claims to a principal of a known tenant."""

    def __init__(
        self,
        settings: OidcSettings,
        tenants: KeyRepository,
        *,
        roles: RoleCatalog | None = None,
        keys: IssuerKeys | None = None,
    ) -> None:
        self._settings = settings
        self._tenants = tenants
        self._roles = roles or RoleCatalog()
        self._keys = keys or IssuerKeys(settings)
        self._tenant_ids: dict[str, str] = {}

    def issues(self, token: str) -> bool:
        """Whether the (unverified) token names this issuer: then it is this verifier's to check."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return False
        return claims.get("iss") == self._settings.issuer

    def authenticate(self, token: str) -> Principal:
        """The principal of a valid token of the issuer; Unauthorized otherwise (blocking)."""
        claims = self._verified(token)
        s = self._settings
        tenant_name, sub = claims.get(s.tenant_claim), claims.get("sub")
        if not isinstance(tenant_name, str) or not isinstance(sub, str) or not sub:
            raise Unauthorized(f"the identity provider's token lacks the {s.tenant_claim!r} or 'sub' claim")
        tenant_id = self._tenant_id(tenant_name)
        roles = sorted(set(_strings(claims.get(s.roles_claim))) - _NOT_FROM_SSO)
        user_ids = claims.get(s.user_ids_claim)
        return Principal(
            tenant_id=tenant_id,
            subject=f"oidc:{sub}",
            kind="user",
            roles=frozenset(roles),
            permissions=self._roles.permissions(tenant_id, roles),
            user_ids=frozenset(_strings(user_ids)) if user_ids is not None else None,
        )

    def _verified(self, token: str) -> dict[str, Any]:
        s = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("malformed access token") from None
        if header.get("alg") not in s.algorithms:
            raise Unauthorized(
                f"the identity provider's tokens must be signed with {', '.join(s.algorithms)}"
            )
        kid = header.get("kid")
        key = self._keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("access token signed by a key the identity provider does not publish")
        return decode_verified(
            token,
            key,
            algorithms=list(s.algorithms),
            audience=s.audience,
            issuer=s.issuer,
            leeway=s.leeway_seconds,
            required=["iss", "aud", "sub", "exp"],
        )

    def _tenant_id(self, name: str) -> str:
        cached = self._tenant_ids.get(name)
        if cached is not None:
            return cached
        tenant = self._tenants.tenant_by_name(name)
        if tenant is None:
            raise Unauthorized("the identity provider's token names an unknown tenant")
        self._tenant_ids[name] = tenant.id
        return tenant.id


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
