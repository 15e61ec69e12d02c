"""Real `membank` processes on free loopback ports, always stopped at the end of the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import free_port

BIN = Path(sys.executable).parent
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"


class Process:
    """One `membank` command with its own log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "membank"), *args], env=env, stdout=self._log, stderr=self._log
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class Server(Process):
    def __init__(self, env: dict[str, str], log: Path, extra: list[str] | None = None) -> None:
        self.port = free_port()
        super().__init__(["serve", "--port", str(self.port), *(extra or [])], env, log)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready:\n{self.output()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.client.close()
        super().stop(sig)

    def wait_job(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.client.get(f"/api/v1/jobs/{job_id}").json()["data"]
            if job["status"] in ("completed", "dead"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")


def server_env(data_dir: Path) -> dict[str, str]:
    """A test server's environment: the ambient one without MEMBANK_ settings, then this data directory, the
    admin key and fast polling."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("MEMBANK_")}
    values.update(
        {
            "MEMBANK_DATA_DIR": str(data_dir),
            "MEMBANK_ADMIN_API_KEY": ADMIN_KEY,
            "MEMBANK_LOG_LEVEL": "INFO",
            "MEMBANK_JOB_POLL_SECONDS": "0.05",
            "MEMBANK_OUTBOX_POLL_SECONDS": "0.1",
        }
    )
    return values


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path / "data")


@dataclass(frozen=True)
class Served:
    """The server of a test module, with its environment (for `membank` commands on its data)."""

    server: Server
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, tenant: str, *scopes: str) -> str:
        """A new API key of the tenant (default scopes unless given)."""
        args = ["keys", "create", "--tenant", tenant, "--name", f"e2e-{tenant}"]
        if scopes:
            args += ["--scopes", ",".join(scopes)]
        return run_cli(self.env, *args).stdout.strip()


@contextlib.contextmanager
def served_module(home: Path) -> Iterator[Served]:
    """One server for a whole test module (its tests share the data), stopped at the end."""
    env = server_env(home / "data")
    server = Server(env, home / "serve.log")
    try:
        yield Served(server, env)
    finally:
        server.stop()


@pytest.fixture
def launch(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start servers and workers; every one still running is stopped after the test."""
    started: list[Process] = []

    def start(kind: str = "serve", extra: list[str] | None = None, **overrides: str) -> Any:
        merged = {**env, **overrides}
        log = tmp_path / f"{kind}-{len(started)}.log"
        proc: Process = (
            Server(merged, log, extra) if kind == "serve" else Process([kind, *(extra or [])], merged, log)
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def run_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / "membank"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"membank {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def assert_one_line_error(result: Any, *fragments: str) -> None:
    """The command failed with one line on stderr (no traceback) naming every fragment."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def all_contents(server: Any, user: str) -> list[str]:
    """Every memory text of a user, page by page."""
    contents: list[str] = []
    offset = 0
    while True:
        page = server.client.get(f"/api/v1/users/{user}/memories?limit=100&offset={offset}").json()["data"]
        contents += [m["content"] for m in page["memories"]]
        offset += 100
        if offset >= page["total"]:
            return contents
