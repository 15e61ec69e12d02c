"""The Qdrant server index as the service uses it: settings, bootstrap, and the maintainer's reactions to
its causes (`unreachable` → degraded with the writes kept in the outbox; `missing` → rebuilt from the system
of record). Real SQLite, qdrant-client's in-memory local mode, a real closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from qdrant_client import QdrantClient

from membank.bootstrap import build_index
from membank.config import Settings
from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.search.index_health import IndexHealth
from membank.search.indexing import IndexSync
from membank.search.maintenance import IndexMaintainer
from membank.storage.qdrant_server import QdrantServerIndex
from membank.storage.sql.store import SqlRecordStore
from tests.unit.test_index_sync import DIM, _add

pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_settings_require_an_http_url_and_keep_the_key_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="required when MEMBANK_VECTOR_INDEX=qdrant"):
        Settings(vector_index="qdrant")
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(vector_index="qdrant", qdrant_url="qdrant.example:6333")
    with pytest.raises(ValidationError, match="qdrant_ca_bundle"):
        Settings(vector_index="qdrant", qdrant_url="https://q:6333", qdrant_ca_bundle=tmp_path / "none.pem")
    with pytest.raises(ValidationError, match="qdrant_collection"):
        Settings(qdrant_collection="../other")
    settings = Settings(vector_index="qdrant", qdrant_url="https://q:6333", qdrant_api_key="qk-secret-1")
    assert "qk-secret-1" not in repr(settings) and "qk-secret-1" not in str(settings.model_dump())


def test_bootstrap_builds_the_server_index_from_settings() -> None:
    settings = Settings(
        vector_index="qdrant",
        qdrant_url=f"http://127.0.0.1:{closed_port()}",
        qdrant_api_key="qk-secret-2",
        qdrant_collection="memories_test",
        qdrant_retries=0,
        qdrant_breaker_failures=1,
        embedding_dim=DIM,
    )
    index = build_index(settings)  # the server being down does not stop the process from starting
    try:
        assert isinstance(index, QdrantServerIndex)
        assert index.collection_name == "memories_test"
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        assert caught.value.cause == "unreachable"
        assert "memories_test" in str(caught.value) and "qk-secret-2" not in str(caught.value)
        assert index.breaker.state == "open"
    finally:
        index.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlRecordStore]:
    store = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    store.migrate()
    yield store
    store.close()


def test_a_down_server_degrades_the_index_and_keeps_the_writes(store: SqlRecordStore) -> None:
    index = QdrantServerIndex.connect(f"http://127.0.0.1:{closed_port()}", DIM, retries=0)
    health = IndexHealth()
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox, health=health)
    maintainer = IndexMaintainer(
        index, sync, health, memories=store.memories, outbox=store.outbox, probe_seconds=0.1
    )
    try:
        _add(store, "written while the index is down", 0)
        assert sync.apply_due(ignore_backoff=True) == 0
        maintainer.tick()
        assert health.state.status == "degraded" and health.state.cause == "unreachable"
        assert store.outbox.pending() == 1  # acknowledged, waiting for the index
    finally:
        index.close()


def test_a_collection_deleted_under_the_index_is_rebuilt(store: SqlRecordStore) -> None:
    client = QdrantClient(location=":memory:")
    index = QdrantServerIndex(client, DIM, collection_name="mem", serialize=True)
    health = IndexHealth()
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox, health=health)
    maintainer = IndexMaintainer(
        index, sync, health, memories=store.memories, outbox=store.outbox, probe_seconds=0.1
    )
    try:
        memories = [_add(store, f"fact {i}", i % DIM) for i in range(3)]
        sync.apply_due()
        maintainer.verify()
        assert health.state.status == "ok" and index.count() == 3
        client.delete_collection("mem")  # an operator's mistake, or a lost volume on the server
        with pytest.raises(IndexUnavailable) as caught:
            index.count()
        assert caught.value.cause == "missing"
        maintainer.tick()  # probe: missing → rebuild from the system of record
        assert health.state.status == "ok"
        assert index.filter_ids(Scope("t", "u"), filter=None, as_of=None) == {m.id for m in memories}
    finally:
        index.close()
