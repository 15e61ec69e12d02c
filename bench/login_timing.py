"""Does a failed login tell an unknown account from a wrong password by its timing? Median latency of
`POST /api/v1/auth/login` for an email no account has vs an existing account with a wrong password.

    .venv/bin/python -m bench.login_timing [--attempts 200] [--env NAME=VALUE ...]

A real `membank serve` on loopback; one account made with `membank users create`. The two kinds of
attempt alternate so both see the same machine load. Measured and printed, never asserted (a timed
assertion on a shared machine only flakes). Both kinds must answer 401: a lockout or the unauthenticated
per-IP limit answers otherwise, and those answers are counted, not timed. Raise those limits for the run
with `--env` (their setting names come with the accounts and request-security slices).

Skips with a message when the server has no /api/v1/auth/login. Writes bench/results/login_timing.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from bench.common import Server, create_account, latency_summary, log, write_result

_TENANT = "default"
_EMAIL = "timing@example.com"
_PASSWORD = "a long throwaway passphrase 5521 for the bench"  # not containing the email's name


def _has_login(server: Server) -> bool:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        paths = client.get("/openapi.json").json()["paths"]
    return "/api/v1/auth/login" in paths


def _attempt(client: httpx.Client, email: str, statuses: Counter[str], kind: str) -> float | None:
    body = {"tenant": _TENANT, "email": email, "password": "wrong-" + uuid.uuid4().hex}
    started = time.perf_counter()
    response = client.post("/api/v1/auth/login", json=body)
    elapsed = time.perf_counter() - started
    statuses[f"{kind} {response.status_code}"] += 1
    return elapsed if response.status_code == 401 else None


def run(attempts: int, env: dict[str, str]) -> dict[str, Any] | None:
    with Server(env=env) as server:
        if not _has_login(server):
            log("skipped: no /api/v1/auth/login on this build (the accounts slice has not landed)")
            return None
        failed = create_account(server, tenant=_TENANT, email=_EMAIL, password=_PASSWORD, role="user")
        if failed is not None:
            raise SystemExit(failed)
        statuses: Counter[str] = Counter()
        timings: dict[str, list[float]] = {"unknown_user": [], "wrong_password": []}
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            _attempt(client, "warm-up@example.com", Counter(), "warm-up")
            started = time.perf_counter()
            for _ in range(attempts):
                unknown = _attempt(
                    client, f"nobody-{uuid.uuid4().hex[:8]}@example.com", statuses, "unknown_user"
                )
                wrong = _attempt(client, _EMAIL, statuses, "wrong_password")
                if unknown is not None:
                    timings["unknown_user"].append(unknown)
                if wrong is not None:
                    timings["wrong_password"].append(wrong)
            elapsed = time.perf_counter() - started
    medians = {kind: statistics.median(values) * 1000 if values else None for kind, values in timings.items()}
    gap = None
    if medians["unknown_user"] is not None and medians["wrong_password"] is not None:
        gap = round(medians["wrong_password"] - medians["unknown_user"], 3)
    return {
        "attempts_per_kind": attempts,
        "statuses": dict(statuses),
        **{kind: latency_summary(values, elapsed) for kind, values in timings.items()},
        "median_gap_ms": gap,  # wrong password minus unknown user
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    result = run(args.attempts, dict(item.split("=", 1) for item in args.env))
    if result is None:
        return
    path = write_result("login_timing", result)
    for kind in ("unknown_user", "wrong_password"):
        log(f"{kind}: p50 {result[kind].get('p50_ms')} ms over {result[kind]['count']} answers of 401")
    log(
        f"median gap (wrong password - unknown user): {result['median_gap_ms']} ms; statuses {result['statuses']}"
    )
    log(f"written to {path}")


if __name__ == "__main__":
    main()
