"""The pgvector adapter beyond the shared contract: PostgreSQL down and back, tables of another dimension or
dropped under it, hostile metadata keys and values, and exact results where the planner takes the HNSW index.

Every failure is an `IndexUnavailable` with a cause, never a driver error, and never shows the database URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.storage.filters import And, Condition, Not
from membank.storage.pgvector import PgvectorIndex
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.text import LEGACY_AVG_LEN, Bm25Text, term_weights
from tests.support.postgres import PostgresServer, start_postgres

DIM = 4
SCOPE = Scope("t", user_id="u")
PASSWORD = "Pw-never-shown-3b9e1d"


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


def ids(*names: str) -> set[str]:
    return {str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in names}


def url_of(server: PostgresServer, database: str) -> str:
    # Trust authentication ignores the password; it stands for a real one that must never be shown.
    return f"postgresql+psycopg://postgres:{PASSWORD}@{server.host}:{server.port}/{database}"


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own, to stop and start again (the session's server is untouched)."""
    with start_postgres() as server:
        yield server


def _assert_unavailable(error: IndexUnavailable, cause: str) -> None:
    assert error.cause == cause, error.message
    assert PASSWORD not in error.message
    assert "postgresql" not in error.message


def _every_call_fails(index: PgvectorIndex, cause: str) -> None:
    calls: list[Any] = [
        index.ping,
        index.count,
        lambda: index.upsert([doc("during")]),
        lambda: index.delete([next(iter(ids("a")))]),
        lambda: index.search(SCOPE, [1.0, 0, 0, 0], "memory", filter=None, as_of=1e9, limit=5),
        lambda: index.filter_ids(SCOPE, filter=None, as_of=None),
        lambda: list(index.entries()),
        lambda: index.tokens(list(ids("a"))),
        index.optimize,
        index.clear,
    ]
    for call in calls:
        with pytest.raises(IndexUnavailable) as caught:
            call()
        _assert_unavailable(caught.value, cause)


def test_server_down_is_unreachable_then_serves_again(own_postgres: PostgresServer) -> None:
    index = PgvectorIndex.connect(url_of(own_postgres, own_postgres.create_database()), DIM)
    try:
        index.upsert([doc("a"), doc("b", text="the second one")])
        own_postgres.stop()
        _every_call_fails(index, "unreachable")
        own_postgres.restart()
        index.ping()  # the pool's dead connections are replaced without a restart of ours
        assert index.count() == 2
        assert {
            hit.id
            for hit in index.search(SCOPE, [1.0, 0, 0, 0], "second", filter=None, as_of=1e9, limit=5).keyword
        } == ids("b")
        index.upsert([doc("c")])
        assert index.filter_ids(SCOPE, filter=None, as_of=None) == ids("a", "b", "c")
    finally:
        index.close()


def test_opened_while_the_server_is_down(own_postgres: PostgresServer) -> None:
    url = url_of(own_postgres, own_postgres.create_database())
    own_postgres.stop()
    index = PgvectorIndex.connect(
        url, DIM
    )  # no error here: the index is unavailable until the server is back
    try:
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        _assert_unavailable(caught.value, "unreachable")
        own_postgres.restart()
        index.ping()
        index.upsert([doc("a")])
        assert index.count() == 1
    finally:
        index.close()


def test_tables_of_another_dimension_are_refused_until_cleared(postgres_url: str) -> None:
    first = PgvectorIndex.connect(postgres_url, DIM)
    first.upsert([doc("a")])
    first.close()
    wider = PgvectorIndex.connect(postgres_url, DIM * 2)
    try:
        for call in (wider.ping, wider.count, lambda: wider.upsert([doc("b", vector=[1.0] * DIM * 2)])):
            with pytest.raises(IndexUnavailable) as caught:
                call()
            assert caught.value.cause == "unreadable"
            assert f"{DIM}-dimensional" in caught.value.message and str(DIM * 2) in caught.value.message
        assert wider.clear() is None  # what `membank reindex` does: the tables are made anew for 8 dimensions
        wider.upsert([doc("b", vector=[1.0] * DIM * 2)])
        assert dict(wider.entries()).keys() == ids("b")
        with pytest.raises(ValueError, match="dimensions"):
            wider.upsert([doc("c")])  # a vector of the old size is bad input, not an index failure
    finally:
        wider.close()


def test_tables_dropped_under_it_are_missing_then_recreated(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    index = PgvectorIndex.connect(postgres_url, DIM)
    try:
        index.upsert([doc("a")])
        database = postgres_url.rsplit("/", 1)[1]
        with postgres_server.connect(database) as conn:
            conn.execute("DROP TABLE vector_index_terms, vector_index_documents")
        with pytest.raises(IndexUnavailable) as caught:
            index.search(SCOPE, [1.0, 0, 0, 0], "memory", filter=None, as_of=1e9, limit=5)
        assert caught.value.cause == "missing"  # the index maintainer rebuilds on this cause
        index.ping()
        assert index.count() == 0
        index.upsert([doc("a")])
        assert index.count() == 1
    finally:
        index.close()


# Keys a hand-built filter may name (the request language allows only [A-Za-z0-9_-]); a dot always separates
# path segments, as on Qdrant.
HOSTILE_KEYS = [
    "it's",
    'say "hi"',
    "back\\slash",
    "x'); DROP TABLE vector_index_documents; --",
    "ünïcödé-ключ-鍵",
    "{curly}",
    "$ ? (@ == 1) || true",
    "0",
]


def test_hostile_metadata_keys_and_values_are_data(postgres_url: str) -> None:
    huge = "needle-" + "x" * 200_000
    index = PgvectorIndex.connect(postgres_url, DIM)
    try:
        index.upsert(
            [
                doc(
                    "hostile",
                    metadata={
                        **{key: f"value of {key}" for key in HOSTILE_KEYS},
                        "huge": huge,
                        "list": ["a", "b"],
                    },
                ),
                doc("plain", metadata={"other": 1}),
            ]
        )
        for key in HOSTILE_KEYS:
            found = index.filter_ids(
                SCOPE, filter=Condition(f"metadata.{key}", "eq", f"value of {key}"), as_of=None
            )
            assert found == ids("hostile"), key
            contains = Condition(f"metadata.{key}", "contains", "'; --")
            assert index.filter_ids(SCOPE, filter=contains, as_of=None) == set()
        assert index.filter_ids(
            SCOPE, filter=Condition("metadata.huge", "contains", "needle-xxx"), as_of=None
        ) == ids("hostile")
        assert index.filter_ids(SCOPE, filter=Condition("metadata.huge", "eq", huge), as_of=None) == ids(
            "hostile"
        )
        # A path segment that is a number never indexes an array.
        assert index.filter_ids(SCOPE, filter=Condition("metadata.list.0", "eq", "a"), as_of=None) == set()
        values = ["'", '"', "\\", "%", "_", "*", "' OR '1'='1", "\u202e", "😀"]
        index.upsert([doc(f"v{i}", metadata={"v": value}) for i, value in enumerate(values)])
        for i, value in enumerate(values):
            assert index.filter_ids(SCOPE, filter=Condition("metadata.v", "eq", value), as_of=None) == ids(
                f"v{i}"
            )
            assert index.filter_ids(
                SCOPE, filter=Condition("metadata.v", "contains", value), as_of=None
            ) >= ids(f"v{i}")
        everything = Not(And((Condition("metadata.v", "eq", "nope"),)))
        assert len(index.filter_ids(SCOPE, filter=everything, as_of=None)) == 2 + len(values)
        assert index.count() == 2 + len(values)
    finally:
        index.close()


def test_exact_results_where_the_planner_takes_the_hnsw_index(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """A user with few documents among many near the query: an HNSW scan (ef_search candidates) would find
    only other users' documents, which the scope then removes; the search still returns all of the user's."""
    database = postgres_url.rsplit("/", 1)[1]
    index = PgvectorIndex.connect(postgres_url, DIM)
    try:
        crowd = [doc(f"crowd{i}", user_id="crowd", vector=[1.0, i / 1000, 0.0, 0.0]) for i in range(400)]
        few = [doc(f"few{i}", user_id="few", vector=[i / 10, 1.0, 0.0, 0.0]) for i in range(5)]
        index.upsert(crowd + few)
        index.optimize()
        index.close()
        with postgres_server.connect(database) as conn:
            # Without the scope's btree index and sequential scans, the HNSW index is the planner's choice.
            conn.execute("DROP INDEX vector_index_documents_scope")
            conn.execute(f'ALTER DATABASE "{database}" SET enable_seqscan = off')
        with postgres_server.connect(database) as conn:
            plan = conn.execute(
                "EXPLAIN SELECT id FROM vector_index_documents WHERE tenant_id = 't' AND user_id = 'few' "
                "ORDER BY embedding <=> '[1,0,0,0]' LIMIT 3"
            ).fetchall()
        assert "vector_index_documents_embedding" in " ".join(str(row[0]) for row in plan)
        index = PgvectorIndex.connect(postgres_url, DIM)
        result = index.search(
            Scope("t", user_id="few"), [1.0, 0.0, 0.0, 0.0], "", filter=None, as_of=1e9, limit=3
        )
        expected = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"few{i}")) for i in (4, 3, 2)]  # most x-like first
        assert [hit.id for hit in result.dense] == expected
        everything = index.search(
            Scope("t", user_id="few"), [1.0, 0.0, 0.0, 0.0], "", filter=None, as_of=1e9, limit=10
        )
        assert {hit.id for hit in everything.dense} == ids(*(f"few{i}" for i in range(5)))
    finally:
        index.close()


def test_optimize_rebuilds_an_hnsw_index_a_concurrent_build_left_invalid(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """`CREATE INDEX CONCURRENTLY` (so a build beside serving processes blocks no writer) leaves an invalid
    index when interrupted, which IF NOT EXISTS would keep for ever: optimize drops it and builds it again."""
    database = postgres_url.rsplit("/", 1)[1]
    index = PgvectorIndex.connect(postgres_url, DIM)
    valid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'vector_index_documents_embedding'::regclass"
    try:
        index.upsert([doc(f"d{i}", vector=[1.0, i / 10, 0.0, 0.0]) for i in range(20)])
        assert index.optimize() is True
        with postgres_server.connect(database) as conn:
            assert conn.execute(valid).fetchone() == (True,)
            conn.execute(  # what an interrupted concurrent build leaves behind
                "UPDATE pg_index SET indisvalid = false "
                "WHERE indexrelid = 'vector_index_documents_embedding'::regclass"
            )
        assert index.optimize() is True
        with postgres_server.connect(database) as conn:
            assert conn.execute(valid).fetchone() == (True,)
        assert index.count() == 20
    finally:
        index.close()


def test_refuses_sqlite(tmp_path: Any) -> None:
    from membank.storage.sql.database import SqlDatabase

    db = SqlDatabase.sqlite(tmp_path / "records.sqlite3")
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            PgvectorIndex(db, DIM)
    finally:
        db.close()


def test_numbers_at_the_64_bit_bounds_compare_exactly(postgres_url: str) -> None:
    low, high = -(2**63), 2**63 - 1
    index = PgvectorIndex.connect(postgres_url, DIM)
    try:
        index.upsert(
            [
                doc("low", metadata={"n": low}),
                doc("high", metadata={"n": high}),
                doc("zero", metadata={"n": 0}),
            ]
        )
        for op, value, expected in [
            ("lte", low, {"low"}),
            ("gte", high, {"high"}),
            ("lt", low, set()),
            ("gt", high, set()),
            ("eq", low, {"low"}),
            ("eq", high, {"high"}),
            ("gt", -1, {"high", "zero"}),
        ]:
            found = index.filter_ids(SCOPE, filter=Condition("metadata.n", op, value), as_of=None)
            assert found == ids(*expected), (op, value)
    finally:
        index.close()


def test_a_maintenance_command_runs_beside_serving_processes_but_not_beside_another(
    postgres_url: str,
) -> None:
    first, second = PgvectorIndex.connect(postgres_url, DIM), PgvectorIndex.connect(postgres_url, DIM)
    maintenance = PgvectorIndex.connect(postgres_url, DIM, maintenance=True)
    other = PgvectorIndex.connect(postgres_url, DIM, maintenance=True)
    try:
        first.upsert([doc("a")])
        second.ping()
        maintenance.ping()  # beside two serving processes
        assert maintenance.count() == 1 == second.count()
        maintenance.upsert([doc("b")])
        first.upsert([doc("c")])  # the servers keep writing and reading meanwhile
        assert second.count() == 3
        for call in (other.ping, other.count, other.clear):
            with pytest.raises(IndexUnavailable, match="another maintenance command") as caught:
                call()
            assert caught.value.cause == "locked"
        assert second.count() == 3  # the refused clear changed nothing
        maintenance.close()
        other.ping()  # free once the first command has ended
        assert other.count() == 3
    finally:
        for index in (first, second, maintenance, other):
            index.close()


def test_a_role_without_ddl_rights_uses_tables_a_dba_made(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    role = f"app_{uuid.uuid4().hex[:8]}"
    with postgres_server.connect(database) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    app_url = (
        f"postgresql+psycopg://{role}:{PASSWORD}@{postgres_server.host}:{postgres_server.port}/{database}"
    )
    try:
        index = PgvectorIndex.connect(app_url, DIM)
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()  # neither the extension nor the tables exist, and this role may create neither
        _assert_unavailable(caught.value, "error")
        assert "CREATE EXTENSION vector" in caught.value.message
        index.close()
        # What the DBA does once (docs/storage.md): the tables made by a privileged open, then granted.
        PgvectorIndex.connect(postgres_url, DIM).close()
        with postgres_server.connect(database) as conn:
            conn.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON vector_index_documents, vector_index_terms TO "{role}"'
            )
        index = PgvectorIndex.connect(app_url, DIM)
        index.upsert([doc("a")])
        assert index.filter_ids(SCOPE, filter=None, as_of=None) == ids("a")
        index.clear()
        assert index.count() == 0
        index.close()
    finally:
        postgres_server.drop_database(database)
        with postgres_server.connect() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_rights_revoked_under_it_fail_the_ping_until_granted_again(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """The tables are still there, so nothing says "missing": the ping itself must see that the role may no
    longer use them, or /health reports ok while every search and write of the index fails."""
    database = postgres_url.rsplit("/", 1)[1]
    role = f"app_{uuid.uuid4().hex[:8]}"
    PgvectorIndex.connect(postgres_url, DIM).close()  # tables made by a privileged open (docs/storage.md)
    with postgres_server.connect(database) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT ALL ON vector_index_documents, vector_index_terms TO "{role}"')
    app_url = (
        f"postgresql+psycopg://{role}:{PASSWORD}@{postgres_server.host}:{postgres_server.port}/{database}"
    )
    index = PgvectorIndex.connect(app_url, DIM)
    try:
        index.ping()
        index.upsert([doc("a")])
        with postgres_server.connect(database) as conn:
            conn.execute(f'REVOKE ALL ON vector_index_terms FROM "{role}"')
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        _assert_unavailable(caught.value, "error")
        assert "may not use" in caught.value.message and role not in caught.value.message
        with postgres_server.connect(database) as conn:
            conn.execute(f'GRANT ALL ON vector_index_terms TO "{role}"')
        index.ping()
        assert index.filter_ids(SCOPE, filter=None, as_of=None) == ids("a")
    finally:
        index.close()
        postgres_server.drop_database(database)
        with postgres_server.connect() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_an_older_state_never_replaces_a_newer_one(postgres_url: str) -> None:
    """Outbox appliers of several processes, or a rebuild that read a memory before it changed, may write a
    state that lost the race: it is ignored (documents and terms alike)."""
    index = PgvectorIndex.connect(postgres_url, DIM)
    try:
        newer = doc("a", text="the newer words", sync_token="3:300.000000", updated_at=300.0, importance=5)
        index.upsert([newer])
        index.upsert([doc("a", text="the older words", sync_token="2:200.000000", updated_at=200.0)])
        index.upsert([doc("a", text="older again", sync_token="3:250.000000", updated_at=250.0)])
        assert dict(index.entries()) == {newer.id: "3:300.000000"}
        keyword = index.search(SCOPE, [1.0, 0, 0, 0], "older words", filter=None, as_of=1e9, limit=5).keyword
        assert [hit.id for hit in keyword] == [newer.id]  # "words" still found: the newer terms stayed
        assert index.filter_ids(SCOPE, filter=Condition("importance", "eq", 5), as_of=None) == ids("a")
        index.upsert([doc("a", text="newest", sync_token="3:301.000000", updated_at=301.0)])
        assert dict(index.entries()) == {newer.id: "3:301.000000"}
        index.upsert([doc("a", text="no version", sync_token="opaque")])  # a token without a version replaces
        assert dict(index.entries()) == {newer.id: "opaque"}
    finally:
        index.close()


def test_tables_made_before_bm25_lengths_are_upgraded_and_reweighted(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Tables of the fixed-average era (no length columns, weights under 12 tokens) gain the columns on open,
    or tell a role that may not alter them what its owner must run; the legacy rows are re-weighted at their
    user's next write, under the user's measured average."""
    database = postgres_url.rsplit("/", 1)[1]
    role = f"app_{uuid.uuid4().hex[:8]}"
    text = Bm25Text()
    long_text = " ".join(f"word{i % 97}" for i in range(300)) + " zebra"
    legacy = [doc("short", text="a zebra"), doc("long", text=long_text)]
    index = PgvectorIndex.connect(postgres_url, DIM)
    index.upsert(legacy)
    index.close()
    with postgres_server.connect(database) as conn:
        conn.execute("ALTER TABLE vector_index_documents DROP COLUMN bm25_length, DROP COLUMN bm25_avg")
        for document in legacy:
            indices, values = term_weights(text.counts(document.text), LEGACY_AVG_LEN)
            for term, weight in zip(indices, values, strict=True):
                conn.execute(
                    "UPDATE vector_index_terms SET weight = %s WHERE document_id = %s AND term = %s",
                    (weight, document.id, term),
                )
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON vector_index_documents, vector_index_terms TO "{role}"'
        )
    app_url = (
        f"postgresql+psycopg://{role}:{PASSWORD}@{postgres_server.host}:{postgres_server.port}/{database}"
    )
    try:
        index = PgvectorIndex.connect(app_url, DIM)
        with pytest.raises(IndexUnavailable) as caught:
            index.ping()
        assert (
            "ADD COLUMN IF NOT EXISTS bm25_length" in caught.value.message
            and role not in caught.value.message
        )
        index.close()
        index = PgvectorIndex.connect(postgres_url, DIM)  # the owner opens it once
        before = index.search(SCOPE, [1.0, 0, 0, 0], "zebra", filter=None, as_of=1e9, limit=10).keyword
        index.upsert([doc("late", text="zebras again")])
        after = index.search(SCOPE, [1.0, 0, 0, 0], "zebra", filter=None, as_of=1e9, limit=10).keyword
        score = {hit.id: hit.score for hit in after}
        short, long = ids("short").pop(), ids("long").pop()
        # Under the old 12 tokens the 300-token memory was weighed as 25x too long; under the measured
        # average (~100 tokens) far less: its share of the short memory's score grows.
        old_ratio = {h.id: h.score for h in before}[long] / {h.id: h.score for h in before}[short]
        assert score[long] / score[short] > 2 * old_ratio
        with postgres_server.connect(database) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM vector_index_documents WHERE bm25_length IS NULL"
            ).fetchone()
        assert rows is not None and rows[0] == 0
        index.close()
    finally:
        postgres_server.drop_database(database)
        with postgres_server.connect() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
