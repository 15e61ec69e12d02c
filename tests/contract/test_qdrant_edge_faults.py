"""The Qdrant Edge adapter boundary under real faults: every failure of the engine or its files is an
`IndexUnavailable` with a cause, never a panic escaping, a failed constructor or a SIGBUS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.search.filters import parse_filter
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.qdrant_edge.locking import OwnerLock

DIM = 4


def doc(name: str, **fields: Any) -> IndexDocument:
    values: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "tenant_id": "t",
        "user_id": "u",
        "vector": [1.0, 0.0, 0.0, 0.0],
        "text": f"memory {name}",
        "memory_type": "factual",
        "importance": 3,
        "created_at": 100.0,
        "updated_at": 100.0,
        "valid_from": 100.0,
        "valid_to": None,
        "sync_token": "1:100.000000",
        **fields,
    }
    return IndexDocument(**values)


def nested(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        tree = {"a": tree}
    return tree


def test_a_rust_panic_in_a_filtered_search_is_index_unavailable(tmp_path: Path) -> None:
    # Metadata deeper than the engine's JSON recursion limit is stored, but reading it back under a
    # metadata filter panics inside qdrant-edge (pyo3 PanicException, a BaseException).
    index = QdrantEdgeIndex(tmp_path / "v", DIM)
    try:
        index.upsert([doc("deep", metadata={"deep": nested(130), "k": "v"})])
        flt = parse_filter({"field": "metadata.k", "op": "eq", "value": "v"})
        with pytest.raises(IndexUnavailable, match="vector index error") as caught:
            index.search(Scope("t", "u"), [1.0, 0, 0, 0], "memory", filter=flt, as_of=200.0, limit=5)
        assert caught.value.code == "INDEX_UNAVAILABLE" and caught.value.status == 503
        # The engine survives its panic: other users are served.
        index.upsert([doc("fine", user_id="u2", metadata={"k": "v"})])
        found = index.search(Scope("t", "u2"), [1.0, 0, 0, 0], "memory", filter=flt, as_of=200.0, limit=5)
        assert [hit.id for hit in found.dense] == [doc("fine").id]
    finally:
        index.close()


_UNWRITABLE_CHILD = """
import json, subprocess, sys
from pathlib import Path
from membank.errors import IndexUnavailable
from tests.contract.test_qdrant_edge_faults import DIM, doc
from membank.storage.qdrant_edge import QdrantEdgeIndex
path = Path(sys.argv[1])
index = QdrantEdgeIndex(path, DIM, flush_seconds=0.05)
index.upsert([doc("before")])
index.close()
index = QdrantEdgeIndex(path, DIM, flush_seconds=0.05)  # pages clean again: the next write faults
subprocess.run(["chattr", "-R", "+i", str(path)], check=True)
out = {}
for name, call in [("upsert", lambda: index.upsert([doc("after")])), ("delete", lambda: index.delete([doc("before").id])),
                   ("optimize", index.optimize), ("ping", index.ping)]:
    try:
        call()
        out[name] = "ok"
    except IndexUnavailable as exc:
        out[name] = exc.cause
out["count"] = index.count()
index.close()  # refused to touch the unwritable files: no SIGBUS
print(json.dumps(out), flush=True)
# Finalizing the engine's objects at interpreter exit writes to the mapped files (SIGBUS while immutable).
import os
os._exit(0)
"""


def test_writes_to_an_immutable_shard_are_refused_instead_of_sigbus(tmp_path: Path) -> None:
    path = tmp_path / "v"
    try:
        done = subprocess.run(
            [sys.executable, "-c", _UNWRITABLE_CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).parents[2],
        )
    finally:
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "upsert": "unwritable",
        "delete": "unwritable",
        "optimize": "unwritable",
        "ping": "unwritable",
        "count": 1,
    }
    # Writable again: the same data opens and takes writes.
    index = QdrantEdgeIndex(path, DIM)
    index.upsert([doc("later")])
    assert index.count() == 2
    index.close()


def test_too_little_free_space_refuses_writes(tmp_path: Path) -> None:
    index = QdrantEdgeIndex(tmp_path / "v", DIM)
    index.upsert([doc("a")])
    index.close()
    starved = QdrantEdgeIndex(tmp_path / "v", DIM, min_free_bytes=2**62)
    with pytest.raises(IndexUnavailable, match="MiB free") as caught:
        starved.ping()
    assert caught.value.cause == "unwritable"
    starved.close()


def test_a_deleted_directory_is_noticed_and_clear_recreates_it(tmp_path: Path) -> None:
    path = tmp_path / "v"
    index = QdrantEdgeIndex(path, DIM)
    try:
        index.upsert([doc("a")])
        shutil.rmtree(path)
        for call in (index.ping, lambda: index.upsert([doc("b")])):
            with pytest.raises(IndexUnavailable, match="deleted") as caught:
                call()
            assert caught.value.cause == "missing"
        assert index.clear() is None
        index.upsert([doc("c")])
        index.ping()
        assert index.count() == 1 and (path / "edge_config.json").exists()
    finally:
        index.close()


def test_a_corrupt_shard_opens_unavailable_and_clear_sets_it_aside(tmp_path: Path) -> None:
    path = tmp_path / "v"
    index = QdrantEdgeIndex(path, DIM)
    index.upsert([doc("a")])
    index.close()
    with (path / "wal" / "open-1").open("r+b") as wal:
        wal.write(os.urandom(4096))
    broken = QdrantEdgeIndex(path, DIM)  # does not raise
    try:
        with pytest.raises(IndexUnavailable, match="cannot open") as caught:
            broken.search(Scope("t", "u"), [1.0, 0, 0, 0], "x", filter=None, as_of=200.0, limit=5)
        assert caught.value.cause == "unreadable"
        with pytest.raises(IndexUnavailable):
            broken.ping()
        kept = broken.clear()
        assert kept is not None and Path(kept).name.startswith("v.corrupt-")
        assert (Path(kept) / "wal" / "open-1").exists()  # kept for forensics
        broken.upsert([doc("b")])
        assert broken.count() == 1
        broken.ping()
    finally:
        broken.close()


def test_an_index_owned_by_another_process_is_locked_not_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "v"
    owner = QdrantEdgeIndex(path, DIM)
    try:
        second = QdrantEdgeIndex(path, DIM)
        with pytest.raises(IndexUnavailable, match="another process") as caught:
            second.ping()
        assert caught.value.cause == "locked"
        second.close()
        assert path.exists() and not list(tmp_path.glob("v.corrupt-*"))
    finally:
        owner.close()


_OPEN_ATTEMPT = """
import sys
from membank.errors import IndexUnavailable
from membank.storage.qdrant_edge import QdrantEdgeIndex
index = QdrantEdgeIndex(sys.argv[1], int(sys.argv[2]))
try:
    index.ping()
except IndexUnavailable as exc:
    print(exc.cause)
"""


def _shard_files(path: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        str(each.relative_to(path)): (each.stat().st_size, each.stat().st_mtime_ns, each.read_bytes())
        for each in sorted(path.rglob("*"))
        if each.is_file()
    }


def test_another_process_opening_a_held_shard_touches_none_of_its_files(tmp_path: Path) -> None:
    # The engine locks its WAL only after loading (recovering) the segments; a second process that got that
    # far rewrote pages the owner had mapped, and the owner's last write read back without its payload.
    path = tmp_path / "v"
    owner = QdrantEdgeIndex(path, DIM, flush_seconds=3600)
    try:
        owner.upsert([doc("held")])
        before = _shard_files(path)
        for _ in range(3):
            attempt = subprocess.run(
                [sys.executable, "-c", _OPEN_ATTEMPT, str(path), str(DIM)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=Path(__file__).parents[2],
            )
            assert attempt.stdout.strip() == "locked", attempt.stderr[-2000:]
        assert _shard_files(path) == before
        found = owner.search(
            Scope("t", "u"), [1.0, 0, 0, 0], "memory held", filter=None, as_of=200.0, limit=5
        )
        assert [hit.importance for hit in found.keyword] == [3]
    finally:
        owner.close()


def test_closing_after_a_failed_clear_gives_up_the_ownership(tmp_path: Path) -> None:
    path = tmp_path / "shards" / "v"
    index = QdrantEdgeIndex(path, DIM)
    index.upsert([doc("held")])
    subprocess.run(["chattr", "+i", str(path.parent)], check=True)  # the shard cannot be removed
    try:
        with pytest.raises(IndexUnavailable) as caught:
            index.clear()
        assert caught.value.cause == "unwritable"
        index.close()
    finally:
        subprocess.run(["chattr", "-i", str(path.parent)], check=False)
    successor = OwnerLock(path)
    successor.acquire()  # raised `locked` while the closed index still held it
    successor.release()


def test_tokens_returns_the_sync_tokens_held(tmp_path: Path) -> None:
    index = QdrantEdgeIndex(tmp_path / "v", DIM)
    try:
        index.upsert([doc("a", sync_token="3:1.0"), doc("b", id="not-a-uuid", sync_token="1:2.0")])
        assert index.tokens([doc("a").id, "not-a-uuid", doc("zz").id]) == {
            doc("a").id: "3:1.0",
            "not-a-uuid": "1:2.0",
        }
    finally:
        index.close()
