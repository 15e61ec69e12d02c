"""`VectorIndex` on Qdrant Edge: the Qdrant engine in-process, one shard in one directory.

Dense: one cosine vector. Keyword: BM25 as a sparse vector (`qdrant_edge.Bm25`: lowercase, ASCII folding,
English stopwords and Snowball stemming) with the IDF modifier, IDF computed over the memories searched (the
user's within the tenant), so one tenant's or user's documents never move another's keyword scores.

Concurrency (measured on qdrant-edge-py 0.9): concurrent reads and writes are safe in the engine; searches
hold the GIL for most of `query_batch` (two searching threads ran 1.13x one), `update` mostly holds it, and
`optimize` holds it for its whole run (the process stops for seconds per ten thousand vectors indexed). Writes are serialised by a mutex; `clear` and `close` exclude everything.

Faults: no engine failure leaves this class as anything but `IndexUnavailable` (a Rust panic, which pyo3
raises as a `BaseException`, included), and writes are refused before they could fault on a mapped page
(see `guard`). A shard that cannot be opened (corrupt, unwritable, locked) leaves the index unavailable
instead of failing the constructor: `ping` tries to open it again, and `clear` sets unreadable files aside
(``<path>.corrupt-<UTC time>``, kept for forensics) and starts empty.

Durability: every update is in the shard's write-ahead log (an mmap) when `upsert`/`delete` return, so a killed
process (kill -9) loses nothing; the WAL is synced to disk only by a flush, which runs `flush_seconds` after
a write and on `close`: an OS crash or power cut can lose the writes of those last seconds (the outbox and
`membank check` restore them from the system of record).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as q

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.storage.filters import FilterNode
from membank.storage.ports import IndexDocument, IndexResult
from membank.storage.qdrant_common.lengths import (
    AVG_LEN,
    LENGTH,
    LENGTH_FIELDS,
    KeywordWeights,
    Stored,
    StoredVector,
    payload_groups,
    records_stats,
    stored_of,
    stored_vector,
)
from membank.storage.qdrant_common.payload import (
    DENSE,
    HIT_FIELDS,
    SPARSE,
    document_payload,
    memory_id,
    point_id,
)
from membank.storage.qdrant_common.points import dense_rows, hits, idf_corpus_scope
from membank.storage.qdrant_common.text import LengthStats
from membank.storage.qdrant_edge import schema
from membank.storage.qdrant_edge.filters import compiler
from membank.storage.qdrant_edge.guard import FileGuard
from membank.storage.qdrant_edge.locking import OwnerLock, ReadWriteLock, in_use

T = TypeVar("T")
_LEFT_OPEN: list[q.EdgeShard] = []  # shards that could not be closed safely (see `close`)
_PAGE = 1024


class QdrantEdgeIndex:
    """Dense + BM25 index of memories in an embedded Qdrant Edge shard at `path`."""

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        flush_seconds: float = 5.0,
        optimize_on_open: bool = True,
        auto_optimize_points: int | None = None,
        min_free_bytes: int = 64 * 2**20,
    ) -> None:
        """Open the shard at `path` (created when absent) for vectors of `dim` dimensions.

        `optimize_on_open` builds the HNSW index of segments that are due before serving; a running index is
        optimized only by `optimize()`, or in the background after `auto_optimize_points` upserts. Writes
        are refused while the file system has less than `min_free_bytes` available.
        """
        self.path = Path(path)
        self.dim = dim
        self._flush_seconds = flush_seconds
        self._auto_optimize_points = auto_optimize_points
        # This process alone writes the shard (`OwnerLock`): users' length statistics are remembered.
        self._keyword = KeywordWeights(remember_seconds=math.inf)
        self._rw = ReadWriteLock()
        self._write_mutex = threading.Lock()
        self._optimizing = threading.Lock()
        self._upserts_since_optimize = 0
        self._flush_timer: threading.Timer | None = None
        self._guard = FileGuard(self.path, min_free_bytes)
        self._owner = OwnerLock(self.path)
        self._closed = False
        self._unavailable: IndexUnavailable | None = None
        self._shard: q.EdgeShard | None = None
        try:
            self._shard = self._open()
        except IndexUnavailable as exc:
            self._unavailable = exc
        if optimize_on_open and self._shard is not None:
            try:
                self.optimize()
            except IndexUnavailable:
                self.close()  # do not leave the shard (and its WAL lock) open behind a failed constructor
                raise

    @property
    def shared(self) -> bool:
        """Not shared: its files belong to the process that opened them."""
        return False

    # -- writes ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        """Insert or replace documents by id."""
        if not documents:
            return
        documents = list({document.id: document for document in documents}.values())  # the last one wins
        vectors = self._dense_vectors(documents)
        with self._writing() as shard, self._keyword.forgetting_on_failure():
            weighted = self._keyword.weigh(_ShardLengths(self), documents)
            points = [
                q.Point(
                    point_id(document.id),
                    {DENSE: vector, SPARSE: q.SparseVector(keyword.indices, keyword.values)},
                    {**document_payload(document), LENGTH: keyword.length, AVG_LEN: keyword.avg_len},
                )
                for document, vector, keyword in zip(documents, vectors, weighted, strict=True)
            ]
            self._call(lambda: shard.update(q.UpdateOperation.upsert_points(points)))
        self._after_upsert(len(points))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        if not ids:
            return
        points = [point_id(each) for each in ids]
        with self._writing() as shard, self._keyword.forgetting_on_failure():
            stored = self._stored(shard, points)
            targets: list[q.PointId] = list(points)
            operation = q.UpdateOperation.delete_points(targets)
            self._call(partial(shard.update, operation))
            self._keyword.deleted(stored.values())

    def clear(self) -> str | None:
        """Remove every document: the shard is deleted and created anew. A shard that could not be read is
        moved aside instead; returns where it was kept."""
        with self._rw.write():
            if self._closed:
                raise IndexUnavailable("the vector index is closed", cause="closed")
            self._owner.acquire()  # another process owns these files: never delete them under it
            kept = None
            if self._shard is not None:
                try:
                    self._guard.check_writable()
                except IndexUnavailable as exc:
                    if exc.cause != "missing":
                        raise  # closing an unwritable shard would fault (SIGBUS): refuse instead
                shard, self._shard = self._shard, None
                with contextlib.suppress(IndexUnavailable):
                    self._call(shard.close)
            try:
                if self._unavailable is not None and self._unavailable.cause == "unreadable":
                    kept = self.path.with_name(
                        f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
                    )
                    self.path.rename(kept)
                elif self.path.exists():
                    shutil.rmtree(self.path)
            except OSError as exc:
                # The reason it is unavailable (e.g. unreadable: to be set aside next time) stays.
                if self._unavailable is None:
                    self._unavailable = IndexUnavailable(f"the vector index at {self.path} was cleared")
                raise IndexUnavailable(
                    f"cannot clear the vector index at {self.path}: {exc}", cause="unwritable"
                ) from exc
            self._upserts_since_optimize = 0
            self._keyword.reset()
            self._shard = self._open()
            return str(kept) if kept else None

    def optimize(self) -> bool:
        """Index and merge segments now (blocking; holds the GIL). True when anything changed."""
        with self._optimizing, self._rw.read():
            shard = self._require()
            self._guard.check_writable()
            changed = self._call(shard.optimize)
            self._upserts_since_optimize = 0
            return changed

    def close(self) -> None:
        """Flush and close; later calls raise `IndexUnavailable`. Closing twice is harmless. A flush that
        fails is skipped: the WAL already holds every write (kill -9 loses nothing), and the outbox and
        `membank check` restore what an OS crash could lose."""
        with self._rw.write():
            self._closed = True
            if self._shard is None:
                # A failed clear (the shard closed, its directory not replaced) still holds the lock.
                self._owner.release()
                return
            shard, self._shard = self._shard, None
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            try:
                self._guard.check_writable()
            except IndexUnavailable:
                self._guard.release()
                # Closing writes to mapped pages too (measured: SIGBUS on an immutable shard), so an
                # unwritable shard is left open; the OS releases it when the process ends.
                _LEFT_OPEN.append(shard)
                return
            with contextlib.suppress(IndexUnavailable):
                self._call(shard.flush)
            with contextlib.suppress(IndexUnavailable):
                self._call(shard.close)
            self._guard.release()
            self._owner.release()

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
        """Dense and BM25 candidates in one batch, both under the same compiled filter."""
        if limit <= 0:
            return IndexResult(dense=[], keyword=[])
        dense = self._dense_vectors([vector])[0]
        compiled = compiler.scope_filter(scope, as_of=as_of, node=filter)
        requests = [
            q.QueryRequest(
                limit=limit,
                query=q.Query.Nearest(dense, using=DENSE),
                filter=compiled,
                with_payload=HIT_FIELDS,
                params=q.SearchParams(hnsw_ef=max(schema.HNSW_EF, 2 * limit)),
            )
        ]
        indices, values = self._keyword.query(text)
        if indices:
            requests.append(
                q.QueryRequest(
                    limit=limit,
                    query=q.Query.Nearest(q.SparseVector(indices, values), using=SPARSE),
                    filter=compiled,
                    with_payload=HIT_FIELDS,
                    params=q.SearchParams(idf=q.IdfParams(corpus=_idf_corpus(scope))),
                )
            )
        with self._rw.read():
            shard = self._require()
            results = self._call(lambda: shard.query_batch(q.QueryBatchRequest(requests)))
        keyword = hits(results[1]) if len(results) > 1 else []
        return IndexResult(dense=hits(results[0]), keyword=keyword)

    def filter_ids(self, scope: Scope, *, filter: FilterNode | None, as_of: float | None) -> set[str]:
        """Every id in `scope` that matches `filter` (and is valid at `as_of` when given)."""
        compiled = compiler.scope_filter(scope, as_of=as_of, node=filter)
        return {found for found, _ in self._scroll(compiled, ["id"])}

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every document, read page by page."""
        for found, payload in self._scroll(None, ["id", "sync_token"]):
            yield found, str(payload["sync_token"])

    def count(self) -> int:
        with self._rw.read():
            shard = self._require()
            return self._call(lambda: shard.count(q.CountRequest(exact=True)))

    def tokens(self, ids: Sequence[str]) -> dict[str, str]:
        """The sync token of each of these documents that the index holds."""
        if not ids:
            return {}
        with self._rw.read():
            shard = self._require()
            records = self._call(
                lambda: shard.retrieve([point_id(each) for each in ids], ["id", "sync_token"], False)
            )
        found = {}
        for record in records:
            payload = record.payload or {}
            found[memory_id(record, payload)] = str(payload.get("sync_token"))
        return found

    def ping(self) -> None:
        """Raise `IndexUnavailable` (with its cause) unless the index can serve and take writes now; an
        index that could not be opened is tried again."""
        if self._shard is None and not self._closed:
            with self._rw.write():
                if self._shard is None and not self._closed:
                    self._shard = self._open()
        with self._rw.read():
            shard = self._require()
            self._guard.check_writable()
            self._call(shard.info)

    # -- internals ------------------------------------------------------------------------------------------

    def _open(self) -> q.EdgeShard:
        """Open (or create) the shard; on failure the index stays unavailable with the reason."""
        try:
            self._owner.acquire()
            shard = self._load_or_create()
        except IndexUnavailable as exc:
            self._owner.release()
            self._unavailable = exc
            raise
        self._unavailable = None
        self._keyword.reset()  # what was remembered was of the shard before
        return shard

    def _load_or_create(self) -> q.EdgeShard:
        config = schema.edge_config(self.dim)
        if self.path.exists():
            # Loading replays the WAL into mapped segment files: on an unwritable tree that is SIGBUS.
            self._guard.check_files()
        else:
            self._guard.check_space()
        try:
            if (self.path / schema.CONFIG_FILE).exists():
                shard = q.EdgeShard.load(str(self.path), config)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                shard = q.EdgeShard.create(str(self.path), config)
        except BaseException as exc:
            if not _engine_failure(exc):
                raise
            raise _open_error(self.path, exc) from exc
        try:
            schema.ensure_payload_indexes(shard)
        except BaseException as exc:
            shard.close()
            if not _engine_failure(exc):
                raise
            raise _open_error(self.path, exc) from exc
        self._guard.remember()
        return shard

    def _require(self) -> q.EdgeShard:
        if self._shard is None:
            if self._closed or self._unavailable is None:
                raise IndexUnavailable("the vector index is closed", cause="closed")
            raise IndexUnavailable(self._unavailable.message, cause=self._unavailable.cause)
        return self._shard

    @staticmethod
    def _call(operation: Callable[[], T]) -> T:
        try:
            return operation()
        except BaseException as exc:
            if not _engine_failure(exc):
                raise
            raise IndexUnavailable(f"vector index error: {exc}") from exc

    @contextlib.contextmanager
    def _writing(self) -> Iterator[q.EdgeShard]:
        """The shard, for one write (its reads included) at a time."""
        with self._rw.read(), self._write_mutex:
            shard = self._require()
            self._guard.check_writable()
            yield shard
            if self._flush_timer is None:
                # The WAL is written (a killed process loses nothing) but not synced: flush soon after a
                # write, so an OS crash or power cut loses at most `flush_seconds` of writes.
                self._flush_timer = threading.Timer(self._flush_seconds, self._flush_pending)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def _stored(self, shard: q.EdgeShard, points: Sequence[str]) -> dict[str, Stored]:
        records = self._call(lambda: shard.retrieve(list(points), LENGTH_FIELDS, False))
        return {str(record.id): stored_of(record.payload or {}) for record in records}

    def _user_records(self, shard: q.EdgeShard, tenant_id: str, user_id: str, vectors: bool) -> Iterator[Any]:
        flt = compiler.scope_filter(Scope(tenant_id, user_id), as_of=None, node=None)
        offset: q.PointId | None = None
        while True:
            request = q.ScrollRequest(
                offset=offset,
                limit=_PAGE,
                filter=flt,
                with_payload=LENGTH_FIELDS,
                with_vector=[SPARSE] if vectors else False,
            )
            records, offset = self._call(partial(shard.scroll, request))
            yield from records
            if offset is None or not records:
                return

    def _flush_pending(self) -> None:
        with self._rw.read(), self._write_mutex:
            self._flush_timer = None
            if self._shard is not None:
                # A failed or refused flush is retried after the next write; close() flushes too.
                with contextlib.suppress(IndexUnavailable):
                    self._guard.check_writable()
                    self._call(self._shard.flush)

    def _after_upsert(self, points: int) -> None:
        self._upserts_since_optimize += points
        threshold = self._auto_optimize_points
        if threshold is None or self._upserts_since_optimize < threshold or self._optimizing.locked():
            return
        self._upserts_since_optimize = 0
        threading.Thread(target=self._optimize_quietly, name="qdrant-edge-optimize", daemon=True).start()

    def _optimize_quietly(self) -> None:
        # Closed meanwhile, or a failure that the next write or search reports.
        with contextlib.suppress(IndexUnavailable):
            self.optimize()

    def _dense_vectors(
        self, vectors: Sequence[Sequence[float]] | Sequence[IndexDocument]
    ) -> list[list[float]]:
        return dense_rows(vectors, self.dim)

    def _scroll(self, flt: q.Filter | None, fields: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(memory id, payload) of every point matching `flt`, a page per read lock."""
        offset: q.PointId | None = None
        while True:
            with self._rw.read():
                shard = self._require()
                request = q.ScrollRequest(
                    offset=offset, limit=_PAGE, filter=flt, with_payload=fields, with_vector=False
                )
                records, offset = self._call(partial(shard.scroll, request))
            for record in records:
                payload = record.payload or {}
                yield memory_id(record, payload), payload
            if offset is None or not records:
                return


class _ShardLengths:
    """`LengthStore` on the shard, for calls made inside `QdrantEdgeIndex._writing`."""

    def __init__(self, index: QdrantEdgeIndex) -> None:
        self._index = index

    def stored(self, point_ids: Sequence[str]) -> dict[str, Stored]:
        return self._index._stored(self._index._require(), point_ids)

    def user_stats(self, tenant_id: str, user_id: str, exclude: set[str]) -> LengthStats | None:
        records = self._index._user_records(self._index._require(), tenant_id, user_id, False)
        return records_stats(records, exclude)

    def user_vectors(self, tenant_id: str, user_id: str) -> Iterator[StoredVector]:
        for record in self._index._user_records(self._index._require(), tenant_id, user_id, True):
            yield stored_vector(record, SPARSE)

    def rewrite(self, points: Sequence[StoredVector]) -> None:
        shard = self._index._require()
        for start in range(0, len(points), _PAGE):
            page = points[start : start + _PAGE]
            vectors = [
                q.PointVectors(
                    point.point_id, {SPARSE: q.SparseVector(list(point.indices), list(point.values))}
                )
                for point in page
            ]
            self._index._call(partial(shard.update, q.UpdateOperation.update_vectors(vectors)))
            for payload, ids in payload_groups(page).items():
                targets: list[q.PointId] = list(ids)
                operation = q.UpdateOperation.set_payload(targets, dict(payload))
                self._index._call(partial(shard.update, operation))


def _idf_corpus(scope: Scope) -> q.Filter:
    return compiler.scope_filter(idf_corpus_scope(scope), as_of=None, node=None)


def _engine_failure(exc: BaseException) -> bool:
    # pyo3 raises a Rust panic as pyo3_runtime.PanicException, which derives from BaseException so that
    # `except Exception` misses it; the binding does not export the class. Interrupts and exits pass.
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _open_error(path: Path, exc: BaseException) -> IndexUnavailable:
    if "WouldBlock" in str(exc):  # the engine's own lock: a process that opened the shard without ours
        return in_use(path)
    return IndexUnavailable(f"cannot open the vector index at {path}: {exc}", cause="unreadable")
