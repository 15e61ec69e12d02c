"""What the host gives this process (Linux: /proc and cgroup v2; None where they cannot be read): its
resident memory, the memory still available to it, and the most it may use."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cgroup_room", "memory_available_bytes", "memory_limit_bytes", "resident_bytes"]

_MEMINFO = Path("/proc/meminfo")
_STATUS = Path("/proc/self/status")
_CGROUP = Path("/sys/fs/cgroup")


def _kib_field(path: Path, name: str) -> int | None:
    """A `Name:  123 kB` line of a /proc file, in bytes."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_limit() -> int | None:
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
    except OSError:
        return None
    return None if limit == "max" else int(limit)


def resident_bytes() -> int | None:
    """This process's resident set."""
    return _kib_field(_STATUS, "VmRSS")


def cgroup_room() -> int | None:
    """What the cgroup (v2) still lets this process allocate, when it has a limit."""
    try:
        limit = _cgroup_limit()
        used = int((_CGROUP / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit is None else max(0, limit - used)


def memory_available_bytes() -> int | None:
    """The host's MemAvailable, or the cgroup's room when that is less."""
    available = _kib_field(_MEMINFO, "MemAvailable")
    room = cgroup_room()
    if room is not None:
        available = room if available is None else min(available, room)
    return available


def memory_limit_bytes() -> int:
    """The cgroup's memory limit when it sets one below the machine's memory, else the machine's memory."""
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = _cgroup_limit()
    except ValueError:
        limit = None
    return machine if limit is None else min(machine, limit)
