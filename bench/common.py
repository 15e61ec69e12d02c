"""Shared benchmark plumbing: a `membank serve` subprocess, machine info, statistics, result files."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
MEMBANK_BIN = Path(sys.executable).parent / "membank"
API_KEY = "bench-admin-key-0123456789abcdef"  # a throwaway key of a throwaway server


class ServerError(RuntimeError):
    """The server did not start or died."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class Server:
    """A `membank serve` subprocess on a free loopback port with its own data directory.

    Use as a context manager: the process is always stopped (and a temporary data dir removed) on exit,
    exceptions and Ctrl-C included. `restart()` stops and starts it again on the same data dir.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        env: dict[str, str] | None = None,
        log_level: str = "WARNING",
        ready_timeout: float = 180.0,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="membank-bench-")) if data_dir is None else data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_key = API_KEY
        self._env = {
            **os.environ,
            "MEMBANK_DATA_DIR": str(self.data_dir),
            "MEMBANK_ADMIN_API_KEY": API_KEY,
            "MEMBANK_PORT": str(self.port),
            "MEMBANK_HOST": "127.0.0.1",
            "MEMBANK_LOG_LEVEL": log_level,
            # The benchmarks drive one key far past the default request limit: they measure the service.
            "MEMBANK_RATE_LIMIT_PER_MINUTE": "0",
            **(env or {}),
        }
        self._ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "server.log"
        self._log: Any = None
        self.cold_start_seconds: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> float:
        """Start the process and wait until GET /health/ready answers 200; returns seconds to ready."""
        if self.process is not None:
            raise ServerError("already running")
        self._log = self.log_path.open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(MEMBANK_BIN), "serve"],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
        )
        deadline = started + self._ready_timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise ServerError(
                        f"membank serve exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get("/health/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    raise ServerError(f"not ready after {self._ready_timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.02)
        self.cold_start_seconds = time.perf_counter() - started
        return self.cold_start_seconds

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within `timeout` seconds."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> float:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- introspection -----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServerError("not running")
        return self.process.pid

    def _status(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return fields

    def rss_mb(self) -> float:
        """Resident set size now (VmRSS), MiB."""
        return int(self._status()["VmRSS"].split()[0]) / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident set size (VmHWM), MiB."""
        return int(self._status()["VmHWM"].split()[0]) / 1024

    def threads(self) -> int:
        return int(self._status()["Threads"])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _clock_ticks()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def data_size_mb(self) -> dict[str, float]:
        """Disk use of the SQLite files and of the vector index, MiB."""
        sqlite = sum(p.stat().st_size for p in self.data_dir.glob("membank.sqlite3*"))
        vectors = sum(p.stat().st_size for p in (self.data_dir / "vectors").rglob("*") if p.is_file())
        return {"sqlite_mb": round(sqlite / 2**20, 1), "vectors_mb": round(vectors / 2**20, 1)}

    # -- API helpers -------------------------------------------------------------------------------

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": self.api_key}, timeout=timeout)


def create_account(server: Server, *, tenant: str, email: str, password: str, role: str) -> str | None:
    """Make an account with `membank users create` on the server's data directory (the password on stdin,
    never on the command line); None when made, else why not."""
    env = {**os.environ, "MEMBANK_DATA_DIR": str(server.data_dir)}
    command = [str(MEMBANK_BIN), "users", "create", "--tenant", tenant, "--role", role, "--email", email]
    made = subprocess.run(
        command, input=password, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if made.returncode != 0:
        return f"`membank users create` failed: {(made.stderr or made.stdout).strip()[:300]}"
    return None


def data(response: httpx.Response) -> Any:
    """The envelope's `data`, or an exception with the error."""
    body = response.json()
    if not body.get("success"):
        raise RuntimeError(f"{response.status_code} {response.request.url.path}: {body.get('error')}")
    return body["data"]


def outbox_pending(client: httpx.Client) -> int:
    return int(data(client.get("/health"))["outbox_pending"])


def wait_indexed(client: httpx.Client, timeout: float = 900.0, poll: float = 0.05) -> float:
    """Wait until the outbox is empty (every stored memory is searchable); returns the seconds waited."""
    started = time.perf_counter()
    while outbox_pending(client) > 0:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"outbox not empty after {timeout} s")
        time.sleep(poll)
    return time.perf_counter() - started


def visited_cities(memories: int) -> list[str]:
    """Short facts of one user, for benchmarks that need a few hundred memories of any kind."""
    return [f"Fact {i}: the user has visited city number {i} and liked it." for i in range(memories)]


def seed_memories(client: httpx.Client, facts: Sequence[str], user_id: str = "bench-user") -> None:
    """The facts as memories of one user, imported in batches of 100 and indexed before this returns."""
    batch = [{"user_id": user_id, "content": fact} for fact in facts]
    for start in range(0, len(batch), 100):
        job = data(
            client.post("/api/v1/memories/batch?wait=true", json={"memories": batch[start : start + 100]})
        )
        if job["status"] != "completed":
            raise RuntimeError(f"seeding failed: {job}")
    wait_indexed(client)


def submit_batch(client: httpx.Client, memories: list[dict[str, Any]]) -> str:
    response = client.post("/api/v1/memories/batch", json={"memories": memories})
    job = data(response)
    return str(job["id"])


def wait_jobs(
    client: httpx.Client,
    job_ids: Sequence[str],
    timeout: float = 1800.0,
    poll: float = 0.05,
    stall_seconds: float = 120.0,
) -> dict[str, float]:
    """Poll until every job is completed; returns {job id: perf_counter time it was seen completed}.
    Raises when a job dies, when `timeout` passes, or when no job makes progress for `stall_seconds`."""
    done: dict[str, float] = {}
    deadline = time.perf_counter() + timeout
    last_progress: tuple[int, ...] = ()
    last_change = time.perf_counter()
    while len(done) < len(job_ids):
        progress = []
        for job_id in job_ids:
            if job_id in done:
                continue
            job = data(client.get(f"/api/v1/jobs/{job_id}"))
            progress.append(int(job["progress"]["done"]))
            if job["status"] == "completed":
                done[job_id] = time.perf_counter()
            elif job["status"] == "dead":
                raise RuntimeError(f"job {job_id} died: {job.get('error')}")
        now = time.perf_counter()
        if tuple(progress) != last_progress:
            last_progress, last_change = tuple(progress), now
        elif now - last_change > stall_seconds:
            raise TimeoutError(f"jobs made no progress for {stall_seconds:.0f} s (progress: {progress})")
        if now > deadline:
            raise TimeoutError(f"{len(job_ids) - len(done)} jobs not completed after {timeout} s")
        if len(done) < len(job_ids):
            time.sleep(poll)
    return done


# -- machine CPU ---------------------------------------------------------------------------------


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def machine_busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """CPU used by every process between two samples; 100 % = one core."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(100.0 * (os.cpu_count() or 1) * busy / total, 1) if total else 0.0


def background_cpu_pct(seconds: float = 2.0) -> float:
    """CPU used by other processes while we do nothing (100 % = one core): a busy machine skews results."""
    before = machine_cpu_ticks()
    time.sleep(seconds)
    return machine_busy_pct(before, machine_cpu_ticks())


def wait_for_quiet(max_pct: float = 25.0, max_wait: float = 0.0) -> float:
    """Sample the machine's background CPU use; wait up to `max_wait` s for it to drop below `max_pct`."""
    deadline = time.perf_counter() + max_wait
    while True:
        busy = background_cpu_pct()
        if busy <= max_pct or time.perf_counter() >= deadline:
            if busy > max_pct:
                log(
                    f"WARNING: other processes use {busy:.0f} % CPU (100 % = one core); results will be skewed"
                )
            return busy
        log(f"other processes use {busy:.0f} % CPU; waiting for a quieter machine")
        time.sleep(10)


# -- statistics ------------------------------------------------------------------------------------


def latency_summary(latencies_s: Sequence[float], elapsed_s: float, errors: int = 0) -> dict[str, Any]:
    """p50/p95/p99/mean/max in ms and throughput (successful requests per second)."""
    if not latencies_s:
        return {"count": 0, "errors": errors, "elapsed_s": round(elapsed_s, 3)}
    ms = np.asarray(latencies_s) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "count": len(latencies_s),
        "errors": errors,
        "elapsed_s": round(elapsed_s, 3),
        "throughput_rps": round(len(latencies_s) / elapsed_s, 1) if elapsed_s > 0 else None,
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "max_ms": round(float(ms.max()), 2),
    }


# -- machine and results ---------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0:
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return None


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json (with machine info) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    # machine info (with the git commit) as recorded when the benchmark started, if it did
    payload = {"benchmark": name, "machine": machine_info(), **result}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so context managers (the server) clean up."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
