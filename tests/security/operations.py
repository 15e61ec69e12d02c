"""The operations of the app's OpenAPI document and one well-formed request for each.

Operations come from `app.openapi()`, so a new endpoint joins the attack suite by itself; it must then get
an entry in EXAMPLES (the suite fails on an operation without one) or be listed in PUBLIC."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tests.security.accounts import PASSWORD

# Answered without credentials by design; each gets its own check (tests/security/test_public_routes.py).
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/refresh"),
    }
)
# Served outside the OpenAPI document (include_in_schema=False); checked as public pages.
PUBLIC_PAGES = ("/docs", "/redoc", "/openapi.json")

# The end user that tenant A's fixture objects belong to, and the one an `own` principal is bound to.
VICTIM_USER = "bob"
BOUND_USER = "alice"
# Marks tenant A's content, so a leak into another principal's answer is visible in its text.
SECRET_MARK = "ACME-SECRET-7f3a"


@dataclass(frozen=True, slots=True)
class MfaVictim:
    token: str  # an access token of a fresh account of tenant A
    code: str  # its authenticator's current code


@dataclass(frozen=True, slots=True)
class Objects:
    """Real objects of tenant A, created by the suite's fixture, that path parameters point at."""

    memory_id: str
    job_id: str
    batch_id: str
    session_id: str  # a conversation session of end user bob
    # A fresh API key of tenant A that no attack presents, per call (for /api/v1/keys/{key_id}: a key the
    # previous operation revoked cannot be rotated), and likewise a fresh service account.
    key_id: Callable[[], str]
    service_account_id: Callable[[], str]
    # A fresh human account of tenant A per call, with a live session and a failed login (for the account
    # routes: disabling, resetting and unlocking it change what the snapshot sees, and no later call needs it).
    account_id: Callable[[], str]
    # A fresh login session of that account per call (for the session routes: each call also starts one,
    # and past the account's session limit the oldest is revoked).
    login_session_id: Callable[[], str]
    # A fresh access token of that account (a new login session each call): the credential of the
    # operations only a signed-in account may call (its own sessions, logout).
    account_token: Callable[[], str]
    # A fresh access token of a fresh account of tenant A (password tests.security.accounts.PASSWORD): the
    # credential of an operation that changes the signed-in account itself (its password).
    victim_token: Callable[[], str]
    # Such an account with an authenticator "enrolled" or "active" (for the MFA routes), and its code.
    mfa_victim: Callable[[str], MfaVictim]
    mfa_code: str = ""  # the code of the request's mfa_victim, for its body
    user_id: str = VICTIM_USER
    team_id: str = ""  # a team of tenant A
    name: str = "attack-target-role"  # a custom role of tenant A (for /api/v1/roles/{name})
    # A fresh IP rule of tenant A per call (a DELETE ends it).
    rule_id: Callable[[], str] = lambda: ""

    def path_value(self, name: str) -> str | None:
        """The object a path parameter names; a new parameter needs a field here (and in world.py)."""
        value = getattr(self, name, None)
        if callable(value):
            value = value()
        return value if isinstance(value, str) else None


BodyFactory = Callable[[Objects], Any]


@dataclass(frozen=True, slots=True)
class Example:
    """How to call one operation well: its body, query and the permissions (`resource:action`) it needs."""

    needs: frozenset[str]
    body: BodyFactory | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    needs_any: frozenset[str] = frozenset()  # and at least one of these (reports: audit or memories read)
    names_user: bool = False  # the request names an end user (path or body): what `own` must check
    reads_only: bool = False  # a POST that only reads (search): it must change nothing even when it succeeds
    as_account: bool = False  # called with an account's access token (tenant A's admin), not an API key
    as_victim: bool = False  # as_account, but with a fresh account's token (victim_token)
    mfa_victim: str = ""  # as_account, with a fresh account whose authenticator is in this state


def _needs(*permissions: str) -> frozenset[str]:
    return frozenset(permissions)


def _query(objects: Objects) -> dict[str, str]:
    return {"user_id": objects.user_id, "query": "launch date"}


_WAIT = {"wait": "true"}  # so a request's job is finished when it answers and no worker runs in between

EXAMPLES: Mapping[tuple[str, str], Example] = {
    ("POST", "/api/v1/memories/process-conversation"): Example(
        _needs("memories:write"),
        lambda o: {"user_id": o.user_id, "session_id": "attack-probe", "user_input": "I like green tea."},
        _WAIT,
        names_user=True,
    ),
    ("GET", "/api/v1/batches/{batch_id}"): Example(_needs("jobs:read")),
    ("GET", "/api/v1/users/{user_id}/sessions/{session_id}"): Example(
        _needs("memories:read"), names_user=True
    ),
    ("GET", "/api/v1/users/{user_id}/sessions"): Example(_needs("memories:read"), names_user=True),
    ("GET", "/api/v1/usage/llm"): Example(_needs(), needs_any=_needs("audit:read", "memories:read")),
    ("POST", "/api/v1/memories/search"): Example(
        _needs("memories:read"), _query, names_user=True, reads_only=True
    ),
    ("POST", "/api/v1/memories/synthesize-context"): Example(
        _needs("memories:read"), _query, names_user=True, reads_only=True
    ),
    ("POST", "/api/v1/memories"): Example(
        _needs("memories:write"),
        lambda o: {"user_id": o.user_id, "content": "The probe was here."},
        names_user=True,
    ),
    ("GET", "/api/v1/memories/{memory_id}"): Example(_needs("memories:read"), names_user=True),
    ("PATCH", "/api/v1/memories/{memory_id}"): Example(
        _needs("memories:write"), lambda o: {"content": "hijacked"}, names_user=True
    ),
    ("DELETE", "/api/v1/memories/{memory_id}"): Example(
        _needs("memories:delete"), query={"hard": "true"}, names_user=True
    ),
    ("GET", "/api/v1/memories/{memory_id}/history"): Example(_needs("memories:read"), names_user=True),
    ("POST", "/api/v1/memories/batch"): Example(
        _needs("memories:write"),
        lambda o: {"memories": [{"user_id": o.user_id, "content": "A batch probe."}]},
        _WAIT,
        names_user=True,
    ),
    ("GET", "/api/v1/users/{user_id}/memories"): Example(_needs("memories:read"), names_user=True),
    ("GET", "/api/v1/users/{user_id}/memories/stats"): Example(
        _needs(), needs_any=_needs("audit:read", "memories:read"), names_user=True
    ),
    ("GET", "/api/v1/jobs/{job_id}"): Example(_needs("jobs:read")),
    ("GET", "/api/v1/jobs/{job_id}/items"): Example(_needs("jobs:read", "memories:read")),
    ("GET", "/api/v1/auth/me"): Example(_needs()),
    ("POST", "/api/v1/auth/logout"): Example(_needs(), as_account=True),
    ("GET", "/api/v1/auth/sessions"): Example(_needs(), as_account=True),
    ("DELETE", "/api/v1/auth/sessions/{login_session_id}"): Example(_needs(), as_account=True),
    ("DELETE", "/api/v1/accounts/{account_id}/sessions"): Example(_needs("users:write"), as_account=True),
    ("POST", "/api/v1/auth/password"): Example(
        _needs(),
        lambda o: {"current_password": PASSWORD, "new_password": f"Probe-{uuid.uuid4().hex[:12]}-Aa1"},
        as_account=True,
        as_victim=True,
    ),
    ("POST", "/api/v1/auth/mfa/enrol"): Example(_needs(), as_account=True, as_victim=True),
    ("POST", "/api/v1/auth/mfa/activate"): Example(
        _needs(), lambda o: {"code": o.mfa_code}, as_account=True, mfa_victim="enrolled"
    ),
    ("POST", "/api/v1/auth/mfa/disable"): Example(
        _needs(), lambda o: {"code": o.mfa_code}, as_account=True, mfa_victim="active"
    ),
    ("POST", "/api/v1/auth/step-up"): Example(
        _needs(), lambda o: {"totp_code": o.mfa_code}, as_account=True, mfa_victim="active"
    ),
    ("POST", "/api/v1/accounts/{account_id}/reset-mfa"): Example(_needs("users:write")),
    ("GET", "/api/v1/accounts"): Example(_needs("users:read")),
    ("POST", "/api/v1/accounts"): Example(
        _needs("users:write"),
        lambda o: {"email": f"probe-{uuid.uuid4().hex[:8]}@acme.example", "roles": ["user"]},
    ),
    ("GET", "/api/v1/accounts/{account_id}"): Example(_needs("users:read")),
    ("PATCH", "/api/v1/accounts/{account_id}"): Example(
        _needs("users:write"), lambda o: {"display_name": "hijacked"}
    ),
    ("DELETE", "/api/v1/accounts/{account_id}"): Example(_needs("users:write")),
    ("POST", "/api/v1/accounts/{account_id}/reset-password"): Example(
        _needs("users:write"), lambda o: {"password": f"Probe-{uuid.uuid4().hex[:12]}-Aa1"}
    ),
    ("POST", "/api/v1/accounts/{account_id}/unlock"): Example(_needs("users:write")),
    ("GET", "/api/v1/keys"): Example(_needs("keys:read"), as_account=True),
    ("POST", "/api/v1/keys"): Example(
        _needs("keys:write"), lambda o: {"name": "probe", "roles": ["user"]}, as_account=True
    ),
    ("GET", "/api/v1/keys/{key_id}"): Example(_needs("keys:read"), as_account=True),
    ("POST", "/api/v1/keys/{key_id}/revoke"): Example(_needs("keys:delete"), as_account=True),
    ("POST", "/api/v1/keys/{key_id}/rotate"): Example(
        _needs("keys:write"), lambda o: {"grace_seconds": 60}, as_account=True
    ),
    ("GET", "/api/v1/keys/{key_id}/usage"): Example(_needs("keys:read"), as_account=True),
    ("DELETE", "/api/v1/keys/{key_id}"): Example(_needs("keys:delete"), as_account=True),
    ("GET", "/api/v1/service-accounts"): Example(_needs("keys:read"), as_account=True),
    ("POST", "/api/v1/service-accounts"): Example(
        _needs("keys:write"), lambda o: {"name": f"probe-{uuid.uuid4().hex[:8]}"}, as_account=True
    ),
    ("GET", "/api/v1/service-accounts/{service_account_id}"): Example(_needs("keys:read"), as_account=True),
    ("POST", "/api/v1/service-accounts/{service_account_id}/disable"): Example(
        _needs("keys:write"), as_account=True
    ),
    ("GET", "/api/v1/roles"): Example(_needs("users:read")),
    ("POST", "/api/v1/roles"): Example(
        _needs("admin:write"), lambda o: {"name": "attack-probe", "permissions": ["memories:read:all"]}
    ),
    ("PATCH", "/api/v1/roles/{name}"): Example(
        _needs("admin:write"), lambda o: {"permissions": ["memories:read:all"]}
    ),
    ("DELETE", "/api/v1/roles/{name}"): Example(_needs("admin:write")),
    ("GET", "/api/v1/auth/policy"): Example(_needs("admin:read")),
    ("PUT", "/api/v1/auth/policy"): Example(_needs("admin:write"), lambda o: {"mfa_required": False}),
    ("GET", "/api/v1/security-events"): Example(_needs("audit:read")),
    ("GET", "/api/v1/teams"): Example(_needs("users:read")),
    ("POST", "/api/v1/teams"): Example(_needs("users:write"), lambda o: {"name": "attack-probe"}),
    ("DELETE", "/api/v1/teams/{team_id}"): Example(_needs("users:write")),
    ("GET", "/api/v1/teams/{team_id}/members"): Example(_needs("users:read")),
    ("PUT", "/api/v1/teams/{team_id}/members/{user_id}"): Example(_needs("users:write")),
    ("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"): Example(_needs("users:write")),
    ("GET", "/api/v1/ip-rules"): Example(_needs("admin:write")),
    # A deny rule for a documentation address (TEST-NET-2): it refuses none of the suite's requests.
    ("POST", "/api/v1/ip-rules"): Example(
        _needs("admin:write"), lambda o: {"cidr": "198.51.100.0/24", "action": "deny", "note": "probe"}
    ),
    ("DELETE", "/api/v1/ip-rules/{rule_id}"): Example(_needs("admin:write")),
    # Platform admins only (a role, not a permission: no other key holds it).
    ("GET", "/api/v1/tenants"): Example(_needs("admin:admin", "platform-admin")),
    ("POST", "/api/v1/tenants"): Example(
        _needs("admin:admin", "platform-admin"), lambda o: {"name": "probe"}
    ),
    # Usage reports: a tenant admin's own tenant, every tenant for a platform admin; the capacity forecast
    # is the deployment's, for platform admins only.
    ("GET", "/api/v1/admin/usage"): Example(_needs("admin:read")),
    ("GET", "/api/v1/admin/usage/monthly"): Example(_needs("admin:read")),
    ("GET", "/api/v1/admin/capacity"): Example(_needs("admin:read", "platform-admin")),
    # The service's diagnosis spans every tenant: platform admins only, like the tenants. The suite's world
    # has no stuck job and no index drift, so a repair that succeeds changes none of the watched tables (its
    # audit event is not watched): what repairs change is tested in tests/api/test_diagnostics_api.py.
    ("GET", "/api/v1/admin/diagnostics"): Example(_needs("admin:admin", "platform-admin")),
    ("POST", "/api/v1/admin/diagnostics/repair"): Example(
        _needs("admin:admin", "platform-admin"), reads_only=True
    ),
}

_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    template: str
    example: Example | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAMETER.findall(self.template))

    @property
    def names_object(self) -> bool:
        """Whether the path points at one of tenant A's objects (not only at an end user)."""
        return any(name != "user_id" for name in self.path_parameters)

    @property
    def mutates(self) -> bool:
        reads_only = self.example is not None and self.example.reads_only
        return self.method not in ("GET", "HEAD", "OPTIONS") and not reads_only


@dataclass(slots=True)
class Request:
    """One HTTP request, as an attack receives it and hands it on altered."""

    method: str
    path: str
    headers: dict[str, str | bytes]
    query: dict[str, str]
    json: Any = None

    def with_headers(self, **headers: str | bytes) -> Request:
        merged = {**self.headers, **{name.replace("_", "-"): value for name, value in headers.items()}}
        return replace(self, headers=merged)

    def without_credentials(self) -> Request:
        kept = {k: v for k, v in self.headers.items() if k.lower() not in ("x-api-key", "authorization")}
        return replace(self, headers=kept)


def protected_operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of the document that is not public, DELETEs last (they end the objects' lives)."""
    found = [
        Operation(method.upper(), template, EXAMPLES.get((method.upper(), template)))
        for template, item in document["paths"].items()
        for method in item
        if (method.upper(), template) not in PUBLIC
    ]
    # A DELETE of a nested object (a team's member) comes before the DELETE of what holds it (the team).
    return sorted(
        found,
        key=lambda op: (
            op.method == "DELETE",
            -op.template.count("/") * (op.method == "DELETE"),
            op.template,
            op.method,
        ),
    )


def public_operations(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), template)
        for template, item in document["paths"].items()
        for method in item
        if (method.upper(), template) in PUBLIC
    ]


def unsecured_operations(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Operations whose OpenAPI entry declares no security requirement."""
    return [
        (method.upper(), template)
        for template, item in document["paths"].items()
        for method, operation in item.items()
        if not operation.get("security")
    ]


def build_request(operation: Operation, objects: Objects, credential: str) -> Request:
    """The operation's well-formed request for tenant A's objects, with `credential` as X-API-Key (or a
    fresh access token of tenant A's admin account for the account-only operations)."""
    example = operation.example
    if example is None:
        raise LookupError(f"{operation.key} has no example in tests/security/operations.py EXAMPLES")
    path = operation.template
    for name in operation.path_parameters:
        value = objects.path_value(name)
        if value is None:
            raise LookupError(f"{operation.key}: no fixture object for path parameter {name!r}")
        path = path.replace("{" + name + "}", value)
    headers: dict[str, str | bytes] = {"X-API-Key": credential}
    if example.mfa_victim:
        victim = objects.mfa_victim(example.mfa_victim)
        objects = replace(objects, mfa_code=victim.code)
        headers = {"Authorization": f"Bearer {victim.token}"}
    elif example.as_account:
        token = objects.victim_token() if example.as_victim else objects.account_token()
        headers = {"Authorization": f"Bearer {token}"}
    body = example.body(objects) if example.body is not None else None
    return Request(operation.method, path, headers, dict(example.query), body)
