"""Head-room of the machine: free disk of the data directory, memory left to the process (Linux: the
host's MemAvailable, or the cgroup's limit when it is lower)."""

from __future__ import annotations

import shutil
from pathlib import Path

from membank.diagnostics.findings import Detail, Finding
from membank.observability.host import cgroup_room, memory_available_bytes, resident_bytes

_MIB = 2**20


def check_disk(data_dir: Path, *, warn_below: int, fail_below: int) -> Finding:
    """Free bytes where the data directory lives: below `fail_below` the index refuses writes."""
    where = data_dir if data_dir.exists() else data_dir.parent
    if not where.exists():
        return Finding(
            "disk.headroom",
            "warn",
            {"path": str(data_dir)},
            "the data directory does not exist yet: check MEMBANK_DATA_DIR",
        )
    usage = shutil.disk_usage(where)
    detail: Detail = {
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_ratio": round(usage.free / usage.total, 4) if usage.total else 0.0,
    }
    if usage.free < fail_below:
        return Finding(
            "disk.headroom",
            "fail",
            detail,
            f"under {fail_below // _MIB} MiB free the index refuses writes (they wait in the outbox): "
            "free disk space or grow the volume of MEMBANK_DATA_DIR",
        )
    if usage.free < warn_below:
        return Finding(
            "disk.headroom",
            "warn",
            detail,
            f"less than {warn_below // _MIB} MiB free: free disk space or grow the volume of MEMBANK_DATA_DIR",
        )
    return Finding.ok("disk.headroom", detail)


def check_memory(*, warn_below: int) -> Finding:
    """Memory the process can still get, and what it holds now (resident set)."""
    available = memory_available_bytes()
    detail: Detail = {
        "available_bytes": available,
        "resident_bytes": resident_bytes(),
        "cgroup_limited": cgroup_room() is not None,
    }
    if available is None:
        return Finding(
            "memory.headroom",
            "warn",
            detail,
            "available memory cannot be read here (no /proc/meminfo): watch the process's memory "
            "with the host's own tools",
        )
    if available < warn_below:
        return Finding(
            "memory.headroom",
            "warn",
            detail,
            f"less than {warn_below // _MIB} MiB of memory left: lower MEMBANK_WORKERS or the cache sizes "
            "(MEMBANK_EMBEDDING_CACHE_SIZE, MEMBANK_SEARCH_CACHE_SIZE), or give the process more memory",
        )
    return Finding.ok("memory.headroom", detail)
