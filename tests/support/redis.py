"""A real Redis for tests: Debian's `redis-server` (installed by `make install`) on 127.0.0.1 and a free port.

The server keeps nothing on disk (no RDB snapshots, no AOF) and runs in a temporary directory. No orphan: it
is our child with a parent-death signal (SIGKILL), so even a `kill -9` of pytest stops it; a normal end stops
it with SIGTERM and removes the directory. `stop()` and `restart()` (same port) let tests take it away and
bring it back, as an outage would.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.processes import die_with_parent, free_port

__all__ = ["RedisServer", "redis_server_binary", "start_redis"]


def redis_server_binary() -> str:
    """The `redis-server` executable, or a RuntimeError that says how to get it."""
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: run `make install` (it installs Debian's redis-server)"
        )
    return found


@dataclass
class RedisServer:
    """A running redis-server on 127.0.0.1:`port` (with `password` when one was set)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    password: str | None = None
    host: str = "127.0.0.1"

    def url(self, db: int = 0) -> str:
        """`redis://[:password@]127.0.0.1:PORT/DB`."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=5)

    def flush(self) -> None:
        """Remove every key of every database (between tests)."""
        with self.client() as client:
            client.flushall()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, SIGKILL if it does not end in time; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)

    def restart(self, startup_timeout: float = 10.0) -> None:
        """Start the stopped server again on the same port (empty: it keeps nothing on disk)."""
        if self.process.poll() is None:
            raise RuntimeError("the server is still running: stop() it first")
        self.process = _launch(self.directory, self.port, self.password)
        if not _wait_until_ready(self, startup_timeout):
            raise RuntimeError(f"redis-server did not restart on port {self.port}:\n{_log_tail(self)}")


@contextmanager
def start_redis(*, password: str | None = None, startup_timeout: float = 10.0) -> Iterator[RedisServer]:
    """Start a redis-server on a free loopback port in a fresh temporary directory; stop it and remove the
    directory when the block ends (also when it ends with an error)."""
    directory = Path(tempfile.mkdtemp(prefix="membank-redis-"))
    server: RedisServer | None = None
    try:
        for _attempt in range(3):
            port = free_port()
            server = RedisServer(port, directory, _launch(directory, port, password), password)
            if _wait_until_ready(server, startup_timeout):
                break
            server.stop()
            if "Address already in use" not in _log_tail(server):
                raise RuntimeError(f"redis-server did not start:\n{_log_tail(server)}")
        else:
            raise RuntimeError("redis-server found no free port in 3 attempts")
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _launch(directory: Path, port: int, password: str | None) -> subprocess.Popen[bytes]:
    command = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(directory / f"redis-{port}.log"),
    ]  # fmt: skip
    if password:
        command += ["--requirepass", password]
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )


def _wait_until_ready(server: RedisServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with server.client() as client:
                if client.ping():
                    return True
        except redis.RedisError:
            time.sleep(0.02)
    return False


def _log_tail(server: RedisServer) -> str:
    log = server.directory / f"redis-{server.port}.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
