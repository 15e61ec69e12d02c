"""Checks run before Qdrant Edge touches its memory-mapped files, because a fault there cannot be caught.

The engine writes through mmaps. A write to a mapped page of an immutable inode (`chattr +i`), or one
that needs a block on a full disk, is answered by the kernel with SIGBUS, which ends the process before any
Python handler runs (exit 135). So every write batch, flush, optimize and open is preceded by
`FileGuard.check_writable`, and is refused (IndexUnavailable, cause ``unwritable``) when it would fault:

- every directory and file of the shard is writable: ``os.access(W_OK)`` is false for an immutable inode
  even for root, and for a read-only mount;
- the file system has at least ``min_free_bytes`` available (statvfs).

It also notices a shard whose files are gone (cause ``missing``): the directory deleted or replaced under
the running process, whose open files the engine would keep writing without a trace on disk.

Cost: one ``faccessat`` per file, relative to an open descriptor of its directory (a path lookup per file
cost 2.5x as much), plus three stats and a statvfs; the file list is re-read only when the shard's
top directories change. A shard has ~200 files per segment (see bench/index_guard_bench.py).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from membank.errors import IndexUnavailable

CONFIG_FILE = "edge_config.json"
_TOP_DIRS = ("wal", "segments")


class FileGuard:
    """Refuses operations on a shard directory that would fault or vanish."""

    def __init__(self, path: Path, min_free_bytes: int) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self._identity: tuple[int, int] | None = None
        self._signature: tuple[int, ...] | None = None
        self._files: list[tuple[int, str, list[str]]] = []  # (directory fd, directory, file names)
        # Checks run from writers and pingers at once; the descriptors must not be closed under a reader.
        self._lock = threading.Lock()

    def remember(self) -> None:
        """Record the directory just opened: a different one at the same path later means it was replaced."""
        stat = self.path.stat()
        self._identity = (stat.st_dev, stat.st_ino)
        self._signature = None

    def check_present(self) -> None:
        """Raise (cause ``missing``) if the opened shard's directory or its files are gone or replaced."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise _missing(f"the vector index directory {self.path} was deleted") from None
        if self._identity is not None and (stat.st_dev, stat.st_ino) != self._identity:
            raise _missing(f"the vector index directory {self.path} was replaced by another one")
        for name in (CONFIG_FILE, *_TOP_DIRS):
            if not (self.path / name).exists():
                raise _missing(f"the vector index lost its files ({self.path / name} is missing)")

    def check_writable(self) -> None:
        """Raise (cause ``missing`` or ``unwritable``) unless a write to the opened shard is safe now."""
        try:
            self.check_present()
            self.check_files()
        except FileNotFoundError as exc:  # deleted while being checked
            raise _missing(f"the vector index lost {exc.filename}") from exc
        except OSError as exc:
            raise IndexUnavailable(f"cannot check the vector index files: {exc}", cause="unwritable") from exc

    def check_files(self) -> None:
        """Raise (cause ``unwritable``) unless every file under the path is writable and there is room."""
        self.check_space()
        with self._lock:
            self._check_files()

    def _check_files(self) -> None:
        signature = self._directory_signature()
        if signature != self._signature:
            self._relist()
            self._signature = signature
        blocked = self._first_unwritable()
        if blocked is not None and not os.path.lexists(blocked):
            # The engine removed a file since the list was read (a merged segment, a rotated WAL file).
            self._relist()
            blocked = self._first_unwritable()
        if blocked is not None:
            raise IndexUnavailable(
                f"the vector index file {blocked} is not writable (immutable, read-only or not permitted); "
                "writes are kept in the outbox until it is",
                cause="unwritable",
            )

    def check_space(self) -> None:
        """Raise (cause ``unwritable``) on a read-only file system or one with too little space left."""
        target = self.path if self.path.exists() else self.path.parent
        stats = os.statvfs(target)
        if stats.f_flag & os.ST_RDONLY:
            raise IndexUnavailable(f"the file system of {target} is read-only", cause="unwritable")
        free = stats.f_bavail * stats.f_frsize
        if free < self.min_free_bytes:
            raise IndexUnavailable(
                f"only {free // 2**20} MiB free on the file system of {target} "
                f"(the vector index needs {self.min_free_bytes // 2**20} MiB to write safely)",
                cause="unwritable",
            )

    def _directory_signature(self) -> tuple[int, ...]:
        base = str(self.path)
        return tuple(_mtime(os.path.join(base, name)) for name in ("", *_TOP_DIRS))

    def release(self) -> None:
        """Close the directory descriptors held for the checks."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        for fd, _, _ in self._files:
            os.close(fd)
        self._files, self._signature = [], None

    def _relist(self) -> None:
        self._release()
        for root, _, files in os.walk(self.path):
            try:
                fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                continue  # removed by the engine while walking
            self._files.append((fd, root, files))

    def _first_unwritable(self) -> str | None:
        # Files only: an unwritable directory makes creating a file fail with an error, not a fault.
        access, writable = os.access, os.W_OK
        for fd, root, names in self._files:
            for name in names:
                if not access(name, writable, dir_fd=fd):
                    return os.path.join(root, name)
        return None


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def _missing(message: str) -> IndexUnavailable:
    return IndexUnavailable(f"{message}; it is rebuilt from the system of record", cause="missing")
