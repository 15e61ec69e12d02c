"""`VectorIndex` on pgvector, in the PostgreSQL database of the system of record (MEMBANK_STORE=postgres).

Dense: ``vector(dim)`` with an HNSW index over cosine distance; scores are cosine similarity
(``1 - (embedding <=> query)``), as Qdrant Edge returns them. Keyword: BM25 with the Edge adapter's
tokenizer and Qdrant's IDF over the memories searched (`keyword`), so both lists mean the same as on the
embedded default. Filters: `filters` compiles the filter tree to parameterised SQL.

Exactness under scope and filters: the server's pgvector (0.6 in the `pgserver` wheel) has no iterative
index scan, so an HNSW scan followed by a selective filter can return fewer than `limit` rows. The planner
picks the scan: for a scope that is a small part of the table (a user among many) it reads the scope by its
btree index and sorts exactly; on the HNSW path ``hnsw.ef_search`` is raised to ``max(128, 2 * limit)``, and a
search that came back short of `limit` is run again exactly over the filtered scope (a materialized CTE the
HNSW index cannot serve). So a result is either `limit` nearest candidates or every match, exactly ranked.

Tables: created by this adapter on open (see `tables` for why not a migration); a table of another dimension
than the configured one leaves the index unavailable (cause ``unreadable``, saying both dimensions) until
`clear` (``membank reindex``) drops and recreates it.

Faults: every database failure is `IndexUnavailable`, never a driver error: cause ``unreachable`` (the
server is down or dropped the connection), ``missing`` (the tables were dropped), ``unwritable`` (a read-only
server or transaction), ``unreadable`` (dimension mismatch), ``closed``, or ``error``. Messages name the kind
of failure only: the database URL (and its password) never appears. Every operation is idempotent, so one
that met a connection the server had dropped (a restart) runs once more on a fresh one.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Float, Select, any_, bindparam, func, select
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.types import Text

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.storage.filters import FilterNode
from membank.storage.pgvector.filters import scope_clause
from membank.storage.pgvector.keyword import Bm25Terms
from membank.storage.pgvector.ownership import IndexOwnership
from membank.storage.pgvector.tables import (
    DIMENSION_QUERY,
    DOCUMENTS,
    HNSW_INDEX,
    INVALID_HNSW_QUERY,
    LENGTH_COLUMNS,
    TERMS,
    Vector,
    create_statements,
    documents,
    drop_statements,
    hnsw_statement,
)
from membank.storage.pgvector.writes import check_vectors, delete_documents, upsert_documents
from membank.storage.ports import IndexDocument, IndexHit, IndexResult
from membank.storage.sql.database import PoolSettings, SqlDatabase
from membank.storage.sql.memories import memories_with_vectors

__all__ = ["PgvectorIndex"]

T = TypeVar("T")
D = documents.c
HNSW_EF = 128
_MAX_EF = 1000  # pgvector's bound on hnsw.ef_search
_PAGE = 1024
_ANALYZE_MIN_ROWS = 256
# Key of the advisory lock under which processes create (or recreate) the tables one at a time.
_SCHEMA_LOCK_KEY = 7_263_401_119
_UNREACHABLE_SQLSTATES = {"57P01", "57P02", "57P03"}  # admin/crash shutdown, cannot connect now
_CONFLICT_SQLSTATES = {"40001", "40P01"}
_TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"  # what serving (search, writes, the outbox) needs


class PgvectorIndex:
    """Dense + BM25 index of memories in two tables of a PostgreSQL database."""

    def __init__(
        self, db: SqlDatabase, dim: int, *, owns_database: bool = False, maintenance: bool = False
    ) -> None:
        """An index of `dim`-dimensional vectors over `db` (the system of record's database, shared: its pool
        serves both; closed with the index only when `owns_database`). Serving processes and one
        `maintenance` command (`membank reindex`, `check`) use it together; a second maintenance index is
        refused while the first is open (`ownership`).
        A database that cannot be reached leaves the index unavailable instead of failing here: every call
        tries to open it again."""
        if not db.is_postgres:
            raise ValueError("the pgvector index needs a PostgreSQL database (MEMBANK_STORE=postgres)")
        create_statements(dim)  # validates the dimension
        self.dim = dim
        self._db = db
        self._owns_database = owns_database
        self._bm25 = Bm25Terms()
        self._ownership = IndexOwnership(db.engine) if maintenance else None
        self._prepare_lock = threading.Lock()
        self._analyze_lock = threading.Lock()
        self._unanalyzed = 0
        self._analyzed_rows = 0
        self._ready = False
        self._closed = False
        with contextlib.suppress(IndexUnavailable):  # reported by the first call (a ping, at start-up)
            self._prepare()
            self._own()

    @classmethod
    def connect(
        cls, url: str, dim: int, pool: PoolSettings | None = None, *, maintenance: bool = False
    ) -> PgvectorIndex:
        """An index over its own connection pool to the database at `url`."""
        return cls(SqlDatabase(url, pool), dim, owns_database=True, maintenance=maintenance)

    @property
    def shared(self) -> bool:
        """Shared: tables in the database every process uses."""
        return True

    # -- writes ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        """Insert or replace documents by id (documents and their terms in one transaction)."""
        if not documents:
            return
        check_vectors([document.vector for document in documents], self.dim)
        self._run(lambda conn: upsert_documents(conn, documents, self._bm25))
        self._analyze_after(len(documents))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        if ids:
            self._run(lambda conn: delete_documents(conn, ids))

    def write_in_transaction(self, conn: Connection, items: Sequence[tuple[str, str]]) -> None:
        """`storage.sql.writes.IndexWriter`: bring these (tenant_id, memory_id) up to date on `conn`, inside
        the memory write's own transaction (the index lives in that database). Raises when the index is not
        usable now (closed, not yet prepared): the outbox takes the items."""
        self._check_open()
        if not self._ready:
            raise IndexUnavailable("the pgvector index is not ready for writes in the memory's transaction")
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for tenant_id, memory_id in items:
            by_tenant[tenant_id].append(memory_id)
        for tenant_id, ids in by_tenant.items():
            found = memories_with_vectors(conn, tenant_id, ids)
            upserts = [IndexDocument.from_memory(memory, vector) for memory, vector in found]
            if upserts:
                check_vectors([document.vector for document in upserts], self.dim)
                upsert_documents(conn, upserts, self._bm25)
            delete_documents(conn, sorted(set(ids) - {document.id for document in upserts}))

    def clear(self) -> str | None:
        """Remove every document: the tables are truncated, or dropped and recreated when they hold another
        dimension. Nothing is set aside (the system of record holds everything): returns None."""
        self._check_open()
        self._own()
        with self._prepare_lock:
            self._run(self._recreate, prepare=False)
            self._ready = True
        return None

    def optimize(self) -> bool:
        """Build the HNSW index if it is missing (minutes at 100k vectors) and refresh the planner's
        statistics (VACUUM ANALYZE). Neither blocks serving processes: the index is built CONCURRENTLY (reads
        and writes go on; it is used once complete), and plain VACUUM takes no exclusive lock. A concurrent
        build that was interrupted leaves an invalid index behind, which is dropped and built again."""

        def maintain(conn: Connection) -> bool:
            invalid = conn.execute(sql(INVALID_HNSW_QUERY)).scalar()
            if invalid:
                conn.execute(sql(f"DROP INDEX CONCURRENTLY IF EXISTS {HNSW_INDEX}"))
            conn.execute(sql(hnsw_statement()))
            conn.execute(sql(f"VACUUM (ANALYZE) {DOCUMENTS}, {TERMS}"))
            return True

        return self._run(maintain, autocommit=True)

    def close(self) -> None:
        """Later calls raise `IndexUnavailable` (closed); closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._ownership is not None:
            self._ownership.release()
        if self._owns_database:
            self._db.close()

    # -- reads ----------------------------------------------------------------------------------------------

    def search(
        self,
        scope: Scope,
        vector: Sequence[float],
        text: str,
        *,
        filter: FilterNode | None,
        as_of: float,
        limit: int,
    ) -> IndexResult:
        """Dense and BM25 candidates in one transaction, both under the same compiled scope and filter."""
        if limit <= 0:
            return IndexResult(dense=[], keyword=[])
        check_vectors([vector], self.dim)
        where = scope_clause(scope, as_of=as_of, node=filter)
        keyword_query = self._bm25.query(text, scope, where, limit)
        query_vector = bindparam("query_vector", list(vector), type_=Vector())
        distance = D.embedding.op("<=>", return_type=Float)(query_vector).label("distance")
        columns = (D.id, distance, D.importance, D.created_at)
        planned = select(*columns).where(where).order_by(distance).limit(limit).subquery("nearest")
        scoped = select(*columns).where(where).cte("scoped").prefix_with("MATERIALIZED")

        def run(conn: Connection) -> IndexResult:
            ef = str(min(_MAX_EF, max(HNSW_EF, 2 * limit)))
            conn.execute(sql("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": ef})
            rows = conn.execute(select(planned).order_by(planned.c.distance, planned.c.id)).all()
            if len(rows) < limit:  # possibly cut short by the filter after an HNSW scan: rank exactly
                exact = select(scoped).order_by(scoped.c.distance, scoped.c.id).limit(limit)
                rows = conn.execute(exact).all()
            dense = _hits(sorted(map(_similarity, rows), key=lambda hit: (-hit[1], hit[0])))
            keyword = _hits(conn.execute(keyword_query).all()) if keyword_query is not None else []
            return IndexResult(dense=dense, keyword=keyword)

        return self._run(run)

    def filter_ids(self, scope: Scope, *, filter: FilterNode | None, as_of: float | None) -> set[str]:
        """Every id in `scope` that matches `filter` (and is valid at `as_of` when given)."""
        statement = select(D.id).where(scope_clause(scope, as_of=as_of, node=filter))
        return self._run(lambda conn: {str(found) for found in conn.execute(statement).scalars()})

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every document, read page by page in id order."""
        after = ""
        while True:
            statement = select(D.id, D.sync_token).where(D.id > after).order_by(D.id).limit(_PAGE)
            page = self._run(partial(_all_rows, statement))
            for row in page:
                yield str(row[0]), str(row[1])
            if len(page) < _PAGE:
                return
            after = str(page[-1][0])

    def tokens(self, ids: Sequence[str]) -> dict[str, str]:
        """The sync token of each of these documents that the index holds."""
        if not ids:
            return {}
        wanted = bindparam(None, sorted(set(ids)), type_=ARRAY(Text))
        statement = select(D.id, D.sync_token).where(D.id == any_(wanted))
        return self._run(lambda conn: {str(row[0]): str(row[1]) for row in conn.execute(statement)})

    def count(self) -> int:
        return self._run(
            lambda conn: int(conn.execute(select(func.count()).select_from(documents)).scalar_one())
        )

    def ping(self) -> None:
        """Raise `IndexUnavailable` (with its cause) unless the database answers, the tables are there,
        writes are possible (not a read-only server or a standby) and the role may read and write the tables
        (rights revoked under a running process fail every search and write, yet look healthy otherwise)."""

        def probe(conn: Connection) -> None:
            row = conn.execute(
                sql(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
                    "to_regclass(:documents) IS NOT NULL AND to_regclass(:terms) IS NOT NULL, "
                    "has_table_privilege(to_regclass(:documents), :rights) "
                    "AND has_table_privilege(to_regclass(:terms), :rights)"
                ),
                {"documents": DOCUMENTS, "terms": TERMS, "rights": _TABLE_RIGHTS},
            ).one()
            if row[0] or row[1] == "on":
                raise IndexUnavailable("the pgvector index's database is read-only", cause="unwritable")
            if not row[2]:
                self._ready = False
                raise _missing()
            if not row[3]:
                raise _not_permitted("privileges")

        self._run(probe, autocommit=True)
        if self._ownership is not None:
            self._guarded(self._ownership.verify)

    # -- internals ------------------------------------------------------------------------------------------

    def _analyze_after(self, written: int) -> None:
        """ANALYZE the tables once this process has written a fifth of their size (at least
        `_ANALYZE_MIN_ROWS`) since it last did: without statistics (new tables, a minute before autovacuum
        looks) the planner takes every scope for one row and joins quadratically (measured 50 ms at 600
        documents, 1 ms after ANALYZE). Written data stays written if it fails: the next write tries again."""
        with self._analyze_lock:
            self._unanalyzed += written
            if self._unanalyzed < max(_ANALYZE_MIN_ROWS, self._analyzed_rows // 5):
                return
            self._unanalyzed = 0

            def analyze(conn: Connection) -> int:
                conn.execute(sql(f"ANALYZE {DOCUMENTS}, {TERMS}"))
                return int(
                    conn.execute(
                        sql("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": DOCUMENTS}
                    ).scalar()
                    or 0
                )

            with contextlib.suppress(IndexUnavailable):
                self._analyzed_rows = self._run(analyze, autocommit=True)

    def _run(
        self, operation: Callable[[Connection], T], *, autocommit: bool = False, prepare: bool = True
    ) -> T:
        """Run `operation` in a transaction (or in autocommit), once more on a fresh connection when the one
        it met had been dropped by the server, or on a deadlock; every failure becomes `IndexUnavailable`."""
        self._check_open()
        if prepare and not self._ready:
            self._prepare()
        if prepare:
            self._own()
        for attempt in (1, 2):
            try:
                with self._db.engine.connect() as conn:
                    if autocommit:
                        return operation(conn.execution_options(isolation_level="AUTOCOMMIT"))
                    with conn.begin():
                        return operation(conn)
            except DBAPIError as exc:
                retry = exc.connection_invalidated or _sqlstate(exc) in _CONFLICT_SQLSTATES
                if retry and attempt == 1:
                    continue
                if _sqlstate(exc) == "42P01":
                    self._ready = False
                raise _unavailable(exc) from None
            except PoolTimeout:
                raise IndexUnavailable(
                    "every database connection of this process is busy (pool timeout)", cause="error"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _own(self) -> None:
        """A maintenance index takes its lock before it is used (`ownership`); a serving one has none."""
        if self._ownership is not None and not self._ownership.held:
            self._guarded(self._ownership.acquire)

    @staticmethod
    def _guarded(operation: Callable[[], None]) -> None:
        try:
            operation()
        except DBAPIError as exc:
            raise _unavailable(exc) from None
        except PoolTimeout:
            raise IndexUnavailable(
                "every database connection of this process is busy (pool timeout)", cause="error"
            ) from None

    def _check_open(self) -> None:
        if self._closed:
            raise IndexUnavailable("the vector index is closed", cause="closed")

    def _prepare(self) -> None:
        """Create the tables when they are missing; refuse tables of another dimension."""
        with self._prepare_lock:
            if not self._ready:
                self._run(self._create_if_missing, prepare=False)
                self._ready = True

    def _create_if_missing(self, conn: Connection) -> None:
        conn.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        found = _dimension(conn)
        if found is not None and found != self.dim:
            raise IndexUnavailable(
                f"the pgvector index table {DOCUMENTS} holds {found}-dimensional vectors but the embedder makes "
                f"{self.dim} (MEMBANK_EMBEDDING_DIM); fix: `membank reindex` rebuilds it with the new dimension",
                cause="unreadable",
            )
        if found is None or not _terms_present(conn):
            # Only when something is missing: a role allowed to use the tables need not be allowed to create.
            for statement in create_statements(self.dim):
                conn.execute(sql(statement))
        elif not _lengths_present(conn):
            _add_lengths(conn)

    def _recreate(self, conn: Connection) -> None:
        conn.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        if _dimension(conn) == self.dim and _terms_present(conn) and _lengths_present(conn):
            conn.execute(sql(f"TRUNCATE {TERMS}, {DOCUMENTS}"))
            return
        for statement in [*drop_statements(), *create_statements(self.dim)]:
            conn.execute(sql(statement))


def _all_rows(statement: Select[Any], conn: Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(statement)]


def _dimension(conn: Connection) -> int | None:
    found = conn.execute(sql(DIMENSION_QUERY), {"table": DOCUMENTS}).scalar()
    return None if found is None else int(found)


def _terms_present(conn: Connection) -> bool:
    return bool(conn.execute(sql("SELECT to_regclass(:terms) IS NOT NULL"), {"terms": TERMS}).scalar())


def _lengths_present(conn: Connection) -> bool:
    """The BM25 length columns, which tables made before them lack."""
    statement = sql(
        "SELECT count(*) = 2 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :documents AND column_name IN ('bm25_length', 'bm25_avg')"
    )
    return bool(conn.execute(statement, {"documents": DOCUMENTS}).scalar())


def _add_lengths(conn: Connection) -> None:
    """Upgrade tables made before BM25 lengths were kept (their rows are re-weighted at their user's next
    write). Adding a column is instant but waits for an exclusive lock: a bounded wait (a running index
    build holds the table), and a role that may use the tables but not alter them is told what to run."""
    conn.execute(sql("SET LOCAL lock_timeout = '10s'"))
    try:
        with conn.begin_nested():
            for statement in LENGTH_COLUMNS:
                conn.execute(sql(statement))
    except DBAPIError as exc:
        if _sqlstate(exc) != "42501":
            raise
        raise IndexUnavailable(
            f"the pgvector index table {DOCUMENTS} predates BM25 lengths and this database role may not "
            f"alter it; fix: its owner runs once: {'; '.join(LENGTH_COLUMNS)}",
            cause="error",
        ) from None


def _similarity(row: Any) -> tuple[str, float, int, float]:
    # A zero vector has no direction: pgvector's cosine distance is NaN, Qdrant's similarity 0.
    distance = float(row.distance)
    return str(row.id), 0.0 if math.isnan(distance) else 1.0 - distance, row.importance, row.created_at


def _hits(rows: Any) -> list[IndexHit]:
    return [
        IndexHit(
            id=str(found),
            score=float(score),
            rank=rank,
            importance=int(importance),
            created_at=float(created),
        )
        for rank, (found, score, importance, created) in enumerate(rows, start=1)
    ]


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _missing() -> IndexUnavailable:
    return IndexUnavailable(
        f"the pgvector index tables ({DOCUMENTS}, {TERMS}) are missing; they are rebuilt from the system of record",
        cause="missing",
    )


def _not_permitted(kind: str) -> IndexUnavailable:
    return IndexUnavailable(
        f"the database role may not use or create the pgvector index tables or the vector extension ({kind}); "
        "fix: CREATE EXTENSION vector as a superuser and grant the role the tables, see docs/storage.md",
        cause="error",
    )


def _unavailable(exc: DBAPIError) -> IndexUnavailable:
    """The failure as `IndexUnavailable`, named by its kind only (a driver's message can carry the URL)."""
    state = _sqlstate(exc) or ""
    kind = type(exc.orig).__name__
    if state == "42P01":
        return _missing()
    if state == "25006":
        return IndexUnavailable(f"the pgvector index's database is read-only ({kind})", cause="unwritable")
    if state == "42501":
        return _not_permitted(kind)
    lost = exc.connection_invalidated or (isinstance(exc, OperationalError) and not state)
    if lost or state.startswith("08") or state in _UNREACHABLE_SQLSTATES:
        return IndexUnavailable(f"the pgvector index's database is unreachable ({kind})", cause="unreachable")
    return IndexUnavailable(f"the pgvector index failed ({kind}, SQLSTATE {state})", cause="error")
