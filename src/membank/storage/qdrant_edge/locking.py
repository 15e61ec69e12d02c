"""A small writer-preferring readers-writer lock (the standard library has none), and the lock that makes
one process the owner of a shard."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from membank.errors import IndexUnavailable


class ReadWriteLock:
    """Many readers or one writer. Not re-entrant: never take `read` while holding `write`."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def in_use(shard_path: Path) -> IndexUnavailable:
    """The error of a shard another process owns."""
    return IndexUnavailable(
        f"the vector index at {shard_path} is in use by another process (one process owns it)", cause="locked"
    )


class OwnerLock:
    """An exclusive `flock` on `<shard>.lock`, beside the shard, held while this process owns the shard.

    The engine's own lock (on its WAL) is taken only after it has loaded, and so recovered, the segments: a
    second process opening a shard that a running server holds rewrites mapped pages under the server
    (measured: payloads then read back empty, a search answered 500). This lock is taken before the engine
    touches a file. It sits beside the directory so that clearing or setting the shard aside keeps it."""

    def __init__(self, shard_path: Path) -> None:
        self.shard_path = shard_path
        self.path = shard_path.with_name(f"{shard_path.name}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (a no-op when held); `IndexUnavailable` (cause ``locked``) when another owns it."""
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Read-only: flock needs no write access, so an immutable or read-only lock file still locks.
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise IndexUnavailable(
                f"cannot open the vector index lock {self.path}: {exc.strerror}", cause="unwritable"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise in_use(self.shard_path) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
