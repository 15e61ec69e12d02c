"""Attacks on one operation's well-formed request: each alters the request and says what must come back.

An attack's `check` returns None when the answer is right, else what is wrong. Every answer is also checked
for tenant A's secret mark, so a refusal that leaks content fails too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tests.security.operations import SECRET_MARK, Operation, Request
from tests.security.tokens import FORGERIES


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the attacks present, by name: the keys made in world.py (tenant_a, tenant_b, revoked, expired,
    auditor, read_only, own_alice, ip_denied) and the access tokens (`jwt:<forgery>`, `jwt:valid`)."""

    plaintexts: dict[str, str]
    granted: dict[str, frozenset[str]]  # `resource:action` each key's principal holds

    def key(self, role: str) -> str:
        return self.plaintexts[role]


class Answer(Protocol):
    """What the checks read of an HTTP response (the test client's or httpx's)."""

    status_code: int

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


Check = Callable[[Answer, Operation], str | None]


def refused(status: int, code: str | None = None, *, code_suffix: str | None = None) -> Check:
    """The answer is `status` with the envelope's error code `code` (or ending in `code_suffix`)."""

    def check(response: Answer, operation: Operation) -> str | None:
        body = _error(response)
        got = body.get("code") if isinstance(body, dict) else None
        if response.status_code != status:
            return f"status {response.status_code} (want {status}), code {got}"
        if code is not None and got != code:
            return f"code {got} (want {code})"
        if code_suffix is not None and not (isinstance(got, str) and got.endswith(code_suffix)):
            return f"code {got} (want *{code_suffix})"
        return None

    return check


def either(*checks: Check) -> Check:
    """Any of the answers is right (an object outside one's reach may be 403 or, hiding it, 404)."""

    def check(response: Answer, operation: Operation) -> str | None:
        problems = [c(response, operation) for c in checks]
        return None if any(p is None for p in problems) else " / ".join(p or "" for p in problems)

    return check


def no_leak(response: Answer, operation: Operation) -> str | None:
    """A read in the caller's own tenant succeeds (and Attack.verdict finds no mark of tenant A in it)."""
    if response.status_code >= 400:
        return f"status {response.status_code} on a read of the caller's own (empty) space"
    return None


def _error(response: Answer) -> Any:
    try:
        return response.json().get("error")
    except (ValueError, AttributeError):
        return None


Alter = Callable[[Request, Credentials], Request]
Applies = Callable[[Operation, Credentials], bool]


def _always(operation: Operation, credentials: Credentials) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    alter: Alter
    check: Check
    applies: Applies = _always

    def verdict(self, response: Answer, operation: Operation) -> str | None:
        if SECRET_MARK in response.text:
            return f"status {response.status_code}: the answer carries tenant A's content"
        return self.check(response, operation)


UNAUTHORIZED = refused(401, "UNAUTHORIZED")
FORBIDDEN = refused(403, "INSUFFICIENT_PERMISSIONS")
NOT_FOUND = refused(404, code_suffix="NOT_FOUND")


def _header(name: str, value: str | bytes) -> Alter:
    return lambda request, _: request.without_credentials().with_headers(**{name: value})


def _with_key(role: str, *, scheme: str = "X-API-Key") -> Alter:
    def alter(request: Request, credentials: Credentials) -> Request:
        key = credentials.key(role)
        bare = request.without_credentials()
        if scheme == "Bearer":
            return bare.with_headers(Authorization=f"Bearer {key}")
        return bare.with_headers(X_API_Key=key)

    return alter


def _lacks_permission(role: str) -> Applies:
    def applies(operation: Operation, credentials: Credentials) -> bool:
        assert operation.example is not None
        granted = credentials.granted[role]
        lacks_any = bool(operation.example.needs_any) and not operation.example.needs_any & granted
        return not operation.example.needs <= granted or lacks_any

    return applies


def _other_tenant_applies(operation: Operation, credentials: Credentials) -> bool:
    # A write that names no object of A acts in the caller's own tenant; it is no attack on A. An API key
    # of any tenant is refused by the account-only operations before a tenant comes into it.
    if operation.example is not None and operation.example.as_account:
        return False
    return operation.names_object or not operation.mutates


def _other_account_applies(operation: Operation, credentials: Credentials) -> bool:
    # Tenant B's account is a tenant admin: the platform's own operations refuse it before any tenant's data.
    platform = operation.example is not None and "platform-admin" in operation.example.needs
    return _other_tenant_applies(operation, credentials) and not platform


def _other_tenant_check(response: Answer, operation: Operation) -> str | None:
    return NOT_FOUND(response, operation) if operation.names_object else no_leak(response, operation)


def _names_user(operation: Operation, credentials: Credentials) -> bool:
    return operation.example is not None and operation.example.names_user


HUGE = "A" * 65_536
_UNKNOWN_KEY = "mbk_0123456789ab_" + "x" * 43


def _bearer(name: str) -> Alter:
    return lambda request, c: request.without_credentials().with_headers(
        Authorization=f"Bearer {c.key(name)}"
    )


def jwt_attacks() -> list[Attack]:
    """Forged or misused access tokens (tests/security/tokens.py); each must be refused like a bad key."""
    forged = [
        Attack(f"jwt {forge.__name__}", _bearer(f"jwt:{forge.__name__}"), UNAUTHORIZED) for forge in FORGERIES
    ]
    return [
        *forged,
        Attack("jwt of a revoked session", _bearer("jwt:revoked_session"), UNAUTHORIZED),
        # Signed by the issuer for tenant B's account: it must meet tenant A's objects as 404.
        Attack(
            "jwt of tenant B",
            _bearer("jwt:another_tenant"),
            _other_tenant_check,
            _other_account_applies,
        ),
    ]


def attacks() -> list[Attack]:
    """Every attack on a protected operation."""
    return [
        Attack("no credentials", lambda request, _: request.without_credentials(), UNAUTHORIZED),
        Attack("empty X-API-Key", _header("X-API-Key", ""), UNAUTHORIZED),
        Attack("empty Authorization", _header("Authorization", ""), UNAUTHORIZED),
        Attack("huge X-API-Key (64 KiB)", _header("X-API-Key", HUGE), UNAUTHORIZED),
        Attack("huge bearer (64 KiB)", _header("Authorization", f"Bearer {HUGE}"), UNAUTHORIZED),
        Attack("non-latin-1 X-API-Key", _header("X-API-Key", "ключ-🔑".encode()), UNAUTHORIZED),
        Attack("non-latin-1 bearer", _header("Authorization", "Bearer ключ-🔑".encode()), UNAUTHORIZED),
        Attack("'Bearer' alone", _header("Authorization", "Bearer"), UNAUTHORIZED),
        Attack("'Bearer ' and spaces", _header("Authorization", "Bearer    "), UNAUTHORIZED),
        Attack("Basic scheme", _header("Authorization", "Basic YWxpY2U6c2VjcmV0"), UNAUTHORIZED),
        Attack(
            "two schemes in one header",
            lambda request, c: request.without_credentials().with_headers(
                Authorization=f"Bearer {c.key('tenant_a')} Basic YWxpY2U6c2VjcmV0"
            ),
            UNAUTHORIZED,
        ),
        Attack(
            "valid bearer, bogus X-API-Key",
            lambda request, c: request.without_credentials().with_headers(
                Authorization=f"Bearer {c.key('tenant_a')}", X_API_Key=_UNKNOWN_KEY
            ),
            UNAUTHORIZED,
        ),
        Attack("unknown key", _header("X-API-Key", _UNKNOWN_KEY), UNAUTHORIZED),
        Attack(
            "forged secret of a real prefix",
            lambda request, c: request.without_credentials().with_headers(
                X_API_Key=c.key("tenant_a")[:-4] + "AAAA"
            ),
            UNAUTHORIZED,
        ),
        Attack("revoked key", _with_key("revoked"), UNAUTHORIZED),
        Attack("revoked key as bearer", _with_key("revoked", scheme="Bearer"), UNAUTHORIZED),
        Attack("expired key", _with_key("expired"), UNAUTHORIZED),
        Attack("tenant B's key", _with_key("tenant_b"), _other_tenant_check, _other_tenant_applies),
        Attack(
            "role without the permission (auditor)",
            _with_key("auditor"),
            FORBIDDEN,
            _lacks_permission("auditor"),
        ),
        Attack(
            "scope ceiling (memories:read only)",
            _with_key("read_only"),
            FORBIDDEN,
            _lacks_permission("read_only"),
        ),
        *jwt_attacks(),
        Attack(
            "own principal (alice) asks for bob",
            _with_key("own_alice"),
            either(FORBIDDEN, NOT_FOUND),
            _names_user,
        ),
        # Tenant C admits no address of ours (ip_rules), so its own valid key must be refused from here.
        Attack("denied IP", _with_key("ip_denied"), refused(403)),
    ]
