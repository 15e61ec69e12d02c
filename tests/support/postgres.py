"""A real PostgreSQL 16 (+ pgvector) for tests, from the binaries of the `pgserver` wheel.

pgserver's own API listens only on a unix socket, so the server is run here from the wheel's `initdb` and
`postgres` with `-h 127.0.0.1 -p <free port>`, in a temporary directory. As root (this machine, CI) postgres
refuses to run, so it runs as pgserver's system user `pgserver` (created with `useradd` by pgserver's helper).

No orphan: the postmaster is our child with a parent-death signal (SIGQUIT, immediate shutdown; its backends
exit when it does), so even a `kill -9` of pytest stops it; a normal end stops it with SIGINT (fast shutdown)
and removes the directory. Directories left by killed runs are removed by the next start.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.processes import die_with_parent, free_port

__all__ = ["PostgresServer", "ScratchDatabases", "start_postgres"]

SUPERUSER = "postgres"
_SYSTEM_USER = "pgserver"
_USERADD_EXISTS = 9
_DIR_PREFIX = "membank-pg-"
_OWNER_FILE = "owner.pid"
# Durability is worthless for a throw-away cluster; these make DDL and commits several times faster.
_SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "128MB",
    "unix_socket_directories": "",
    "log_min_messages": "warning",
}


def _bin_dir() -> Path:
    # Located without importing `pgserver`: its import sets up runtime directories we do not use.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class PostgresServer:
    """A running cluster on 127.0.0.1:`port`, superuser `postgres` with trust authentication."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    start_seconds: float = 0.0
    settings: dict[str, str] = field(default_factory=dict)  # the -c options it runs with
    _templates: set[str] = field(default_factory=set)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database: `postgresql+psycopg://postgres@127.0.0.1:PORT/NAME`."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit psycopg connection (CREATE/DROP DATABASE cannot run in a transaction)."""
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, autocommit=True
        )

    def create_database(self, name: str | None = None, *, template: str = "template1") -> str:
        """Create a database (a copy of `template`) and return its name."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending the connections a test may have left open to it."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def template(self, name: str, prepare: Callable[[str], None] | None = None) -> str:
        """A template database made once per server: created empty, then `prepare(url)` (e.g. run the
        migrations) fills it. `prepare` must close its connections: a template in use cannot be copied."""
        if name not in self._templates:
            self.drop_database(name)
            self.create_database(name, template="template0")
            if prepare is not None:
                prepare(self.url(name))
            with self.connect() as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(sql.Identifier(name)))
            self._templates.add(name)
        return name

    def restart(self, startup_timeout: float = 30.0) -> None:
        """Start the stopped cluster again on the same data directory and port (what clients reconnect to)."""
        if self.process.poll() is None:
            raise RuntimeError("the server is still running: stop() it first")
        self.process = _launch(
            self.directory / "data", self.port, self.directory / f"postgres-{self.port}.log", self.settings
        )
        if not _wait_until_ready(self, startup_timeout):
            raise RuntimeError(f"PostgreSQL did not restart on port {self.port}")

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT), SIGKILL if it does not end in time; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


class ScratchDatabases:
    """The databases one test (or module) made: `make(template)` returns a new one's URL; `drop_all()`
    drops them all when it ends."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.names: list[str] = []

    def make(self, template: str = "template1") -> str:
        name = self.server.create_database(template=template)
        self.names.append(name)
        return self.server.url(name)

    def drop_all(self) -> None:
        while self.names:
            self.server.drop_database(self.names.pop())


@contextmanager
def start_postgres(
    *, startup_timeout: float = 30.0, settings: Mapping[str, str] | None = None
) -> Iterator[PostgresServer]:
    """Initialise a cluster in a fresh temporary directory, start it on a free loopback port, and stop
    and remove it when the block ends (also when it ends with an error). `settings` override the
    throw-away defaults (the benchmarks turn durability back on)."""
    _remove_abandoned_directories()
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
    (directory / _OWNER_FILE).write_text(str(os.getpid()))
    server: PostgresServer | None = None
    try:
        data = _init_cluster(directory)
        server = _start_postmaster(directory, data, startup_timeout, {**_SERVER_SETTINGS, **(settings or {})})
        server.start_seconds = time.monotonic() - started
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _as_root() -> bool:
    return os.geteuid() == 0


def _init_cluster(directory: Path) -> Path:
    data = directory / "data"
    data.mkdir()
    if _as_root():
        entry = _system_user()
        _open_to_others(directory)
        _open_to_others(_bin_dir().parent)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [
            str(_bin_dir() / "initdb"), "-D", str(data),
            "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
        ],
        check=True,
        capture_output=True,
        user=_SYSTEM_USER if _as_root() else None,
    )  # fmt: skip
    return data


def _system_user() -> pwd.struct_passwd:
    """The unprivileged user postgres runs as when we are root (the one pgserver itself uses)."""
    try:
        return pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        made = subprocess.run(["useradd", "-s", "/bin/bash", _SYSTEM_USER], capture_output=True, check=False)
        # 9: it exists now, made by another test worker between the lookup and here (a fresh machine).
        if made.returncode not in (0, _USERADD_EXISTS):
            raise subprocess.CalledProcessError(
                made.returncode, made.args, made.stdout, made.stderr
            ) from None
        return pwd.getpwnam(_SYSTEM_USER)


def _open_to_others(path: Path) -> None:
    """Let the postgres user reach `path` (every parent traversable) and read and run what is below it."""
    for parent in path.parents:
        parent.chmod(parent.stat().st_mode | stat.S_IXOTH | stat.S_IXGRP)
    readable = stat.S_IRGRP | stat.S_IROTH
    for root, _dirs, files in os.walk(path):
        Path(root).chmod(Path(root).stat().st_mode | readable | stat.S_IXGRP | stat.S_IXOTH)
        for name in files:
            file = Path(root) / name
            mode = file.stat().st_mode
            # Executables stay executable for others; everything else just becomes readable.
            extra = stat.S_IXGRP | stat.S_IXOTH if mode & stat.S_IXUSR else 0
            file.chmod(mode | readable | extra)


def _start_postmaster(
    directory: Path, data: Path, startup_timeout: float, settings: Mapping[str, str]
) -> PostgresServer:
    last_log = ""
    for _attempt in range(3):
        port = free_port()
        log_path = directory / f"postgres-{port}.log"
        process = _launch(data, port, log_path, settings)
        server = PostgresServer(port=port, directory=directory, process=process, settings=dict(settings))
        if _wait_until_ready(server, startup_timeout):
            return server
        server.stop()
        last_log = log_path.read_text(errors="replace")
        if "could not bind" not in last_log and "Address already in use" not in last_log:
            break
    raise RuntimeError(f"PostgreSQL did not start:\n{last_log[-4000:]}")


def _launch(data: Path, port: int, log_path: Path, settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
    command = [str(_bin_dir() / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port)]
    for key, value in settings.items():
        command += ["-c", f"{key}={value}"]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=_SYSTEM_USER if _as_root() else None,
            # When pytest dies, even by SIGKILL, the postmaster gets SIGQUIT (immediate shutdown).
            preexec_fn=die_with_parent(signal.SIGQUIT),
        )


def _wait_until_ready(server: PostgresServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    return False


def _remove_abandoned_directories() -> None:
    """Directories of runs whose pytest process is gone (killed): their postmaster died with it."""
    for directory in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*"):
        try:
            owner = int((directory / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _process_alive(owner) and not _postmaster_alive(directory / "data"):
            shutil.rmtree(directory, ignore_errors=True)


def _postmaster_alive(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _process_alive(pid)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
