"""The attack suite over every operation of the OpenAPI document (issue 10, "Tests").

Each protected operation gets one well-formed request for tenant A's real objects; each attack alters it
and names the answer it must get. After every case the store is compared with its state before: a refused
request changes nothing. The last test prints and writes the summary line and asserts no failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security import snapshot, tokens
from tests.security.accounts import PASSWORD
from tests.security.attacks import Answer, Attack, attacks
from tests.security.operations import (
    EXAMPLES,
    PUBLIC_PAGES,
    SECRET_MARK,
    Operation,
    Request,
    build_request,
    protected_operations,
    public_operations,
    unsecured_operations,
)
from tests.security.world import TENANT_A, World, open_world

# attack name -> (cases run, failures); filled by test_attack, read by the summary.
RESULTS: dict[str, tuple[int, list[str]]] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("attack") / "data") as opened:
        yield opened


@pytest.fixture(scope="module")
def document(world: World) -> dict[str, Any]:
    openapi: dict[str, Any] = world.client.app.openapi()  # type: ignore[attr-defined]
    return openapi


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> list[Operation]:
    return protected_operations(document)


def send(world: World, request: Request) -> Answer:
    # Raw header bytes, so the non-latin-1 values reach the server as they are.
    headers = [
        (name.encode(), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in request.headers.items()
    ]
    return world.client.request(
        request.method, request.path, headers=headers, params=request.query, json=request.json
    )


def test_every_protected_operation_has_an_example(operations: list[Operation]) -> None:
    missing = [op.key for op in operations if op.example is None]
    assert not missing, f"add these to tests/security/operations.py EXAMPLES: {missing}"
    assert len(operations) >= 17


def test_every_example_names_an_operation(operations: list[Operation]) -> None:
    """An example left behind by a renamed route would hide that the new route is untested."""
    served = {(op.method, op.template) for op in operations}
    stale = sorted(set(EXAMPLES) - served)
    assert not stale, f"EXAMPLES for operations the app no longer has: {stale}"


def test_every_operation_without_security_is_listed_public(document: dict[str, Any]) -> None:
    public = set(public_operations(document))
    unlisted = [op for op in unsecured_operations(document) if op not in public]
    assert not unlisted, f"operations without a security requirement that are not in PUBLIC: {unlisted}"


def test_the_examples_are_well_formed(world: World, operations: list[Operation]) -> None:
    """With tenant A's key every example succeeds, so a refusal in the suite is the attack's doing."""
    failures = []
    with snapshot.store_reader(world.settings.sqlite_path) as engine:
        for operation in operations:
            own_memory = world.client.post(
                "/api/v1/memories",
                headers={"X-API-Key": world.credentials.key("tenant_a")},
                json={"user_id": world.objects.user_id, "content": "A control memory."},
            ).json()["data"]["id"]
            objects = dataclasses.replace(world.objects, memory_id=own_memory)
            # Built first, as in _run_case: a fresh object the request points at (a key, an IP rule) is
            # made before the snapshot, so the snapshot sees only what the request itself does.
            request = build_request(operation, objects, world.credentials.key("tenant_a"))
            before = snapshot.take(engine)
            response = send(world, request)
            if response.status_code not in (200, 201, 202):
                failures.append(f"{operation.key}: {response.status_code} {response.text[:200]}")
            # The snapshot must see what a write does, or "nothing changed" would prove nothing.
            if operation.mutates and not snapshot.differences(before, snapshot.take(engine)):
                failures.append(f"{operation.key}: succeeded but the store snapshot did not change")
    assert not failures, failures


def test_public_operations_answer_without_credentials(world: World, document: dict[str, Any]) -> None:
    for method, path in public_operations(document):
        if "{" in path or method != "GET":
            continue  # login/register/refresh carry bodies: their own tests (accounts, tokens) cover them
        response = world.client.request(method, path)
        assert response.status_code in (200, 503), (path, response.status_code)
        assert SECRET_MARK not in response.text
    for page in PUBLIC_PAGES:
        assert world.client.get(page).status_code == 200, page


def test_a_valid_token_is_accepted(world: World, operations: list[Operation]) -> None:
    """The JWT attacks' control: a token signed as the issuer signs, with the issuer's claims, reads what
    tenant A's own key reads. Without it the JWT attacks would only show that an untrusted token is refused."""
    assert world.signer.trusted, "no active key in signing_keys: this build issues no access tokens"
    account = world.account_a
    # A session of its own: the logout example of the suite ends the account's other sessions.
    session_id = world.objects.login_session_id()
    token = world.signer.sign(tokens.claims(account.tenant_id, account.user_id, session_id))
    read = 0
    for operation in operations:
        # Account A is a tenant admin: the platform's own operations are not its to read.
        if operation.mutates or operation.example is None or "platform-admin" in operation.example.needs:
            continue
        # Against the key's answer, not 200: an earlier example may have deleted the object (the team).
        request = build_request(operation, world.objects, world.credentials.key("tenant_a"))
        by_key = send(world, request)
        by_token = send(world, request.without_credentials().with_headers(Authorization=f"Bearer {token}"))
        assert by_token.status_code == by_key.status_code, (operation.key, by_token.text[:200])
        read += by_token.status_code == 200
    assert read >= 10


def test_replayed_refresh_token_revokes_the_family(world: World, document: dict[str, Any]) -> None:
    """Refresh rotation with reuse detection: a replayed refresh token is refused and ends its family."""
    if "/api/v1/auth/refresh" not in document["paths"] or "/api/v1/auth/login" not in document["paths"]:
        pytest.skip("no /api/v1/auth/login and /refresh on this build (slice tokens)")
    client, account = world.client, world.account_a
    login = client.post(
        "/api/v1/auth/login", json={"tenant": TENANT_A, "email": account.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    first = login.json()["data"]["refresh_token"]
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["data"]["refresh_token"]
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "UNAUTHORIZED", replay.text
    family = client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert family.status_code == 401, "the replay must revoke the rotated token too"
    assert SECRET_MARK not in replay.text + family.text


def _run_case(world: World, attack: Attack, operation: Operation, engine: Any) -> str | None:
    request = attack.alter(
        build_request(operation, world.objects, world.credentials.key("tenant_a")), world.credentials
    )
    before = snapshot.take(engine)
    response = send(world, request)
    problem = attack.verdict(response, operation)
    changed = snapshot.differences(before, snapshot.take(engine))
    if changed and (response.status_code >= 400 or not operation.mutates):
        problem = f"{problem + '; ' if problem else ''}store changed: {changed}"
    return problem


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.name) for a in attacks()])
def test_attack(world: World, operations: list[Operation], attack: Attack) -> None:
    failures: list[str] = []
    cases = 0
    with snapshot.store_reader(world.settings.sqlite_path) as engine:
        for operation in operations:
            if operation.example is None or not attack.applies(operation, world.credentials):
                continue
            cases += 1
            problem = _run_case(world, attack, operation, engine)
            if problem is not None:
                failures.append(f"{operation.key}: {problem}")
    RESULTS[attack.name] = (cases, failures)
    assert cases > 0, f"{attack.name} applies to no operation"
    assert not failures, "\n".join(failures)


def test_summary(tmp_path_factory: pytest.TempPathFactory, operations: list[Operation]) -> None:
    cases = sum(result[0] for result in RESULTS.values())
    failures = sum(len(result[1]) for result in RESULTS.values())
    line = f"attack suite: {len(operations)} operations x {len(RESULTS)} attacks = {cases} cases, {failures} failures"
    summary = tmp_path_factory.getbasetemp() / "attack-suite-summary.txt"
    summary.write_text(f"{line}\n")
    print(f"\n{line}\n(written to {summary})")
    assert len(RESULTS) == len(attacks()), "run the whole module for the summary"
    assert failures == 0
