"""No secret and, with MEMBANK_LOG_REDACT_CONTENT, no memory content or email address in any log line of a real
`membank serve` at DEBUG: the whole account life (register, login, MFA, refresh, reuse, revoke-all) and memory
writes, searches and a conversation, then the server's log is searched for every secret of the run."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN_KEY, run_cli
from tests.e2e.test_registration_flow_e2e import EMAIL, PASSWORD, _flow

pytestmark = pytest.mark.e2e

MARKER = "ZEBRA-7731-QUOKKA"
# Shapes of secrets the run handles whose values the test does not see (tokens, keys, MFA material).
_SHAPES = {
    "an API key": re.compile(r"mbk_[0-9a-f]{12}_[A-Za-z0-9\-]{8,}"),
    "a refresh token": re.compile(r"mbr_[A-Za-z0-9_\-]{8,}"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    "an otpauth URI": re.compile(r"otpauth://"),
}


def test_a_full_run_at_debug_logs_no_secret_content_or_email(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    server = launch(MEMBANK_LOG_LEVEL="DEBUG", MEMBANK_LOG_REDACT_CONTENT="true")
    admin = run_cli(
        env, "keys", "create", "--tenant", "acme", "--name", "admin", "--scopes", "admin"
    ).stdout.strip()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _flow(client, admin)
        wrong = client.post(
            "/api/v1/auth/login", json={"tenant": "acme", "email": EMAIL, "password": PASSWORD + "-wrong"}
        )
        assert wrong.status_code == 401
    created = server.client.post("/api/v1/memories", json={"user_id": "u1", "content": f"code {MARKER}"})
    assert created.status_code == 201, created.text
    found = server.client.post("/api/v1/memories/search", json={"user_id": "u1", "query": MARKER})
    assert found.status_code == 200, found.text
    job = server.client.post(
        "/api/v1/memories/process-conversation",
        json={"user_id": "u1", "session_id": "s1", "user_input": f"My locker code is {MARKER}."},
    )
    assert job.status_code == 202, job.text
    assert server.wait_job(job.json()["data"]["id"])["status"] == "completed"
    server.stop()

    log = server.output()
    assert log.count("security_event") >= 10, log[-2000:]  # the run was logged
    for secret in (ADMIN_KEY, admin, PASSWORD, EMAIL, MARKER):
        assert secret not in log, f"{secret!r} is in the server log"
    for name, shape in _SHAPES.items():
        assert not shape.search(log), f"{name} is in the server log: {shape.search(log)}"
