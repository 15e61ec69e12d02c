"""Start-up verification and recovery of the serving process's index (real SQLite, real Qdrant Edge)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.search.index_health import IndexHealth
from membank.search.indexing import IndexSync
from membank.search.maintenance import IndexMaintainer
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.sql.store import SqlRecordStore
from tests.unit.test_index_sync import DIM, _add

Parts = tuple[SqlRecordStore, QdrantEdgeIndex, IndexSync, IndexHealth, IndexMaintainer]


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    store = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    store.migrate()
    index = QdrantEdgeIndex(tmp_path / "vectors", DIM)
    health = IndexHealth()
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox, health=health)
    yield (
        store,
        index,
        sync,
        health,
        IndexMaintainer(index, sync, health, memories=store.memories, outbox=store.outbox, probe_seconds=0.1),
    )
    index.close()
    store.close()


def test_an_index_with_an_outdated_version_is_repaired_at_start_up(parts: Parts) -> None:
    store, index, sync, health, maintainer = parts
    memories = [_add(store, f"fact {i}", i % DIM) for i in range(5)]
    sync.apply_due()
    maintainer.verify()
    assert health.state.status == "ok"
    # The index lost the last in-place update (same count): only the sync token tells.
    newest = memories[-1]
    stale = IndexDocument.from_memory(replace(newest, version=0), [1.0] + [0.0] * (DIM - 1))
    index.upsert([stale])
    maintainer.verify()
    assert health.state.status == "rebuilding" and "newest memories" in str(health.state.reason)
    with pytest.raises(IndexUnavailable) as caught:
        health.require_available()
    assert caught.value.details["status"] == "rebuilding"
    maintainer.tick()
    assert health.state.status == "ok"
    assert health.report()["last_repair"]["stale"] == 1
    assert sync.check(repair=False).consistent


def test_an_index_deleted_while_running_is_rebuilt_with_the_writes_made_meanwhile(
    parts: Parts, tmp_path: Path
) -> None:
    store, index, sync, health, maintainer = parts
    first = _add(store, "User likes tea", 0)
    sync.apply_due()
    shutil.rmtree(tmp_path / "vectors")
    second = _add(store, "User plays chess", 1)
    assert sync.apply_for([second.id]) is False  # refused, kept in the outbox
    assert health.state.status == "degraded" and health.state.cause == "missing"
    maintainer.tick()
    assert health.state.status == "ok" and store.outbox.pending() == 0
    assert index.filter_ids(Scope("t", "u"), filter=None, as_of=None) == {first.id, second.id}
    assert health.report()["last_repair"]["action"] == "rebuild"
