"""`VectorIndex` on a Qdrant server (or cluster) through `qdrant-client`: one collection shared by every
MemBank process, so any API instance or worker can search and write it.

Points are laid out and filtered exactly as on Qdrant Edge (`membank.storage.qdrant_common`): a cosine `dense`
vector, a `bm25` sparse vector (tokenized here by `qdrant_edge.Bm25`, no model download) with the IDF modifier
whose IDF is computed over the memories searched (the user's within the tenant, `IdfCorpusParams`), the same
payload keys and the same filter compiler.

Writes wait for the server to apply them (`wait=True`): when `upsert`/`delete` return, the write is in the
server's write-ahead log. Every call is retried on transient failures and guarded by a circuit breaker
(`calls`); every failure is `IndexUnavailable`. The collection is created (with its payload indexes) on first
use; a server that is down at start leaves the index unavailable rather than failing the constructor, and
the next call or `ping` tries again. A collection that disappears later is reported as ``missing`` (so it
is rebuilt from the system of record), never silently recreated empty; one whose vectors have another size
is ``incompatible`` and left alone (it may be another application's) until `membank reindex` replaces it.

`QdrantServerIndex.connect` talks to a server (URL, API key, TLS); `QdrantServerIndex.local` opens
qdrant-client's local mode at a path, the same client API over an in-process Python engine, which is how the
contract suite runs this adapter (no Qdrant server binary is available here).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from qdrant_client import QdrantClient, models

from membank.errors import IndexUnavailable
from membank.models import Scope
from membank.resilience import CircuitBreaker
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
from membank.storage.qdrant_server import collection
from membank.storage.qdrant_server.calls import ServerCalls
from membank.storage.qdrant_server.filters import compiler
from membank.storage.qdrant_server.versions import VERSION, not_older, token_version

__all__ = ["QdrantServerIndex"]

T = TypeVar("T")
_PAGE = 1024
_UPSERT_BATCH = 512
STATS_SECONDS = 30.0


class QdrantServerIndex:
    """Dense + BM25 index of memories in the Qdrant collection `collection_name`, reached through `client`."""

    def __init__(
        self,
        client: QdrantClient,
        dim: int,
        *,
        collection_name: str = "membank",
        where: str = "the Qdrant server",
        retries: int = 3,
        backoff_seconds: float = 0.2,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 10.0,
        secrets: Sequence[str] = (),
        serialize: bool = False,
    ) -> None:
        """Use `client` (the index owns it and closes it). `where` names the server in messages (no
        credentials); `secrets` are removed from every message; `serialize` runs one call at a time (for
        local mode). See `calls` for retries and the breaker."""
        self._client = client
        self.dim = dim
        self.collection_name = collection_name
        self._calls = ServerCalls(
            f"{where} (collection {collection_name!r})",
            retries=retries,
            backoff_seconds=backoff_seconds,
            breaker=CircuitBreaker(failures=breaker_failures, reset_seconds=breaker_reset_seconds),
            secrets=secrets,
            serialize=serialize,
        )
        # Other processes write the collection too: a user's length statistics are remembered for a short
        # while only (others' writes meanwhile move the average by less than the drift that a re-weight
        # waits for). Re-weights write a point only in the state it was read in (its sync token), so a
        # newer write is never undone; points left under different averages (a re-weight cut short, or two
        # at once) are seen at the next measurement and re-weighted together.
        self._keyword = KeywordWeights(remember_seconds=STATS_SECONDS)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._closed = False
        with contextlib.suppress(IndexUnavailable):
            self._ensure_collection()  # else unavailable until a call or ping finds the server again

    @classmethod
    def connect(
        cls,
        url: str,
        dim: int,
        *,
        api_key: str | None = None,
        timeout_seconds: int = 10,
        ca_bundle: Path | None = None,
        **options: Any,
    ) -> QdrantServerIndex:
        """The index on the server at `url` (``https://`` for TLS, verified against the system CAs or the
        PEM bundle `ca_bundle`). No request is sent before the first call."""
        tls: dict[str, Any] = {}
        if ca_bundle is not None:
            try:
                tls["verify"] = ssl.create_default_context(cafile=str(ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load the CA bundle {ca_bundle}: {exc}") from exc
        client = QdrantClient(
            url=url,
            api_key=api_key,
            timeout=timeout_seconds,
            prefer_grpc=False,
            check_compatibility=False,  # a version probe at construction would fail while the server is down
            **tls,
        )
        secrets = [api_key] if api_key else []
        return cls(client, dim, where=f"Qdrant at {_public_address(url)}", secrets=secrets, **options)

    @classmethod
    def local(cls, path: Path, dim: int, **options: Any) -> QdrantServerIndex:
        """The index in qdrant-client's local mode at `path` (created when absent; one process at a time)."""
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            client = QdrantClient(path=str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            locked = "already accessed" in str(exc)
            raise IndexUnavailable(
                f"cannot open Qdrant local storage at {path}: {exc}",
                cause="locked" if locked else "unreadable",
            ) from exc
        return cls(client, dim, where=f"Qdrant local storage at {path}", serialize=True, **options)

    @property
    def breaker(self) -> CircuitBreaker:
        return self._calls.breaker

    @property
    def shared(self) -> bool:
        """Shared: one collection on a server every process uses."""
        return True

    # -- writes ---------------------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        """Insert or replace documents by id, except that an older state of a memory never replaces a newer
        one (`not_older`); returns once the server has applied them."""
        if not documents:
            return
        latest = {document.id: document for document in documents}  # the last of a repeated id wins
        documents = list(latest.values())
        vectors = dense_rows(documents, self.dim)
        with self._keyword.forgetting_on_failure():
            weighted = self._keyword.weigh(_ServerLengths(self), documents)
            points = [
                models.PointStruct(
                    id=point_id(document.id),
                    vector={
                        DENSE: vector,
                        SPARSE: models.SparseVector(indices=keyword.indices, values=keyword.values),
                    },
                    payload={**_payload(document), LENGTH: keyword.length, AVG_LEN: keyword.avg_len},
                )
                for document, vector, keyword in zip(documents, vectors, weighted, strict=True)
            ]
            # Requests stay well under the server's 32 MiB body limit (a 384-d point is ~5 KB of JSON). A failure
            # part-way leaves some batches applied: harmless, the outbox re-sends them all (upserts by id).
            for start in range(0, len(points), _UPSERT_BATCH):
                self._call(
                    "upsert points",
                    partial(
                        self._client.upsert,
                        self.collection_name,
                        points=points[start : start + _UPSERT_BATCH],
                        update_filter=not_older(documents[start : start + _UPSERT_BATCH]),
                        wait=True,
                    ),
                )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        if not ids:
            return
        points = [point_id(each) for each in ids]
        stored = self._stored(points)  # what the remembered length statistics lose
        selector = models.PointIdsList(points=list[models.ExtendedPointId](points))
        with self._keyword.forgetting_on_failure():
            self._call(
                "delete points",
                lambda: self._client.delete(self.collection_name, points_selector=selector, wait=True),
            )
            self._keyword.deleted(stored.values())

    def clear(self) -> str | None:
        """Drop the collection and create it anew (nothing is kept aside: the server's data is not ours to
        move). Returns None."""
        self._require_open()
        try:
            self._calls("delete the collection", lambda: self._client.delete_collection(self.collection_name))
        except IndexUnavailable as exc:
            if exc.cause != "missing":
                raise
        with self._ready_lock:
            self._ready = False
        self._ensure_collection()
        return None

    def optimize(self) -> bool:
        """Nothing to do: the server builds and merges segments in the background. Returns False."""
        self._call("read the collection", lambda: self._client.get_collection(self.collection_name))
        return False

    def close(self) -> None:
        """Release the client; later calls raise `IndexUnavailable`. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        # Nothing to flush or lose: every acknowledged write is on the server already.
        with contextlib.suppress(Exception):
            self._client.close()

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
        """Dense and BM25 candidates in one batch request, both under the same compiled filter."""
        if limit <= 0:
            return IndexResult(dense=[], keyword=[])
        dense = dense_rows([vector], self.dim)[0]
        compiled = compiler.scope_filter(scope, as_of=as_of, node=filter)
        requests = [
            models.QueryRequest(
                query=dense,
                using=DENSE,
                filter=compiled,
                limit=limit,
                with_payload=HIT_FIELDS,
                params=models.SearchParams(hnsw_ef=max(collection.HNSW_EF, 2 * limit)),
            )
        ]
        indices, values = self._keyword.query(text)
        if indices:
            corpus = compiler.scope_filter(idf_corpus_scope(scope), as_of=None, node=None)
            requests.append(
                models.QueryRequest(
                    query=models.SparseVector(indices=indices, values=values),
                    using=SPARSE,
                    filter=compiled,
                    limit=limit,
                    with_payload=HIT_FIELDS,
                    params=models.SearchParams(idf=models.IdfCorpusParams(corpus=corpus)),
                )
            )
        responses = self._call(
            "search",
            lambda: self._client.query_batch_points(self.collection_name, requests=requests),
        )
        keyword = hits(responses[1].points) if len(responses) > 1 else []
        return IndexResult(dense=hits(responses[0].points), keyword=keyword)

    def filter_ids(self, scope: Scope, *, filter: FilterNode | None, as_of: float | None) -> set[str]:
        """Every id in `scope` that matches `filter` (and is valid at `as_of` when given)."""
        compiled = compiler.scope_filter(scope, as_of=as_of, node=filter)
        return {found for found, _ in self._scroll(compiled, ["id"])}

    def entries(self) -> Iterator[tuple[str, str]]:
        """(id, sync_token) of every document, read page by page."""
        for found, payload in self._scroll(None, ["id", "sync_token"]):
            yield found, str(payload["sync_token"])

    def tokens(self, ids: Sequence[str]) -> dict[str, str]:
        """The sync token of each of these documents that the index holds."""
        if not ids:
            return {}
        wanted = [point_id(each) for each in ids]
        records = self._call(
            "retrieve points",
            lambda: self._client.retrieve(
                self.collection_name, ids=wanted, with_payload=["id", "sync_token"], with_vectors=False
            ),
        )
        found = {}
        for record in records:
            payload = record.payload or {}
            found[memory_id(record, payload)] = str(payload.get("sync_token"))
        return found

    def count(self) -> int:
        result = self._call("count points", lambda: self._client.count(self.collection_name, exact=True))
        return int(result.count)

    def ping(self) -> None:
        """Raise `IndexUnavailable` (with its cause) unless the server answers and the collection is
        there and not failing (status red)."""
        info = self._call("read the collection", lambda: self._client.get_collection(self.collection_name))
        if info.status == models.CollectionStatus.RED:
            raise IndexUnavailable(f"{self._calls.where} reports status red (an optimizer failed)")

    # -- internals ------------------------------------------------------------------------------------------

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        self._require_open()
        if not self._ready:
            self._ensure_collection()
        return self._calls(what, operation)

    def _require_open(self) -> None:
        if self._closed:
            raise IndexUnavailable("the vector index is closed", cause="closed")

    def _ensure_collection(self) -> None:
        """Create the collection and its payload indexes when absent; check the vector size when present."""
        with self._ready_lock:
            if self._ready:
                return
            exists = self._calls(
                "look up the collection", lambda: self._client.collection_exists(self.collection_name)
            )
            if not exists:
                self._create_collection()
            else:
                info = self._calls(
                    "read the collection", lambda: self._client.get_collection(self.collection_name)
                )
                size = collection.vector_size(info)
                if size != self.dim:
                    raise IndexUnavailable(
                        f"{self._calls.where} holds {size}-dimensional vectors, not {self.dim}: "
                        "use another collection name, or rebuild this one (`membank reindex`, which drops it)",
                        cause="incompatible",
                    )
            self._ready = True

    def _create_collection(self) -> None:
        name = self.collection_name
        self._calls(
            "create the collection",
            lambda: self._client.create_collection(
                name,
                vectors_config={DENSE: collection.dense_params(self.dim)},
                sparse_vectors_config={SPARSE: collection.sparse_params()},
                hnsw_config=collection.hnsw_config(),
            ),
        )
        for field, schema in collection.payload_indexes().items():
            self._calls(
                f"index the payload field {field}",
                partial(
                    self._client.create_payload_index, name, field_name=field, field_schema=schema, wait=True
                ),
            )

    def _scroll(self, flt: models.Filter | None, fields: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(memory id, payload) of every point matching `flt`, a page per request."""
        for record in self._records(flt, fields, vectors=False):
            payload = record.payload or {}
            yield memory_id(record, payload), payload

    def _records(self, flt: models.Filter | None, fields: list[str], *, vectors: bool) -> Iterator[Any]:
        """Every point matching `flt` with these payload fields (and its sparse vector), a page per request."""
        offset: models.ExtendedPointId | None = None
        while True:
            records, offset = self._call(
                "scroll points",
                partial(
                    self._client.scroll,
                    self.collection_name,
                    scroll_filter=flt,
                    limit=_PAGE,
                    offset=offset,
                    with_payload=fields,
                    with_vectors=[SPARSE] if vectors else False,
                ),
            )
            yield from records
            if offset is None or not records:
                return

    def _stored(self, points: Sequence[str]) -> dict[str, Stored]:
        records = self._call(
            "retrieve points",
            lambda: self._client.retrieve(
                self.collection_name, ids=list(points), with_payload=LENGTH_FIELDS, with_vectors=False
            ),
        )
        return {str(record.id): stored_of(record.payload or {}) for record in records}

    def _user_records(self, tenant_id: str, user_id: str, vectors: bool) -> Iterator[Any]:
        flt = compiler.scope_filter(Scope(tenant_id, user_id), as_of=None, node=None)
        return self._records(flt, LENGTH_FIELDS, vectors=vectors)

    def _rewrite(self, points: Sequence[StoredVector]) -> None:
        """Each point's new sparse vector and lengths, written only while it holds the state it was read in."""
        for start in range(0, len(points), _UPSERT_BATCH):
            page = points[start : start + _UPSERT_BATCH]
            vectors = [
                models.PointVectors(
                    id=point.point_id,
                    vector={
                        SPARSE: models.SparseVector(indices=list(point.indices), values=list(point.values))
                    },
                )
                for point in page
            ]
            self._call(
                "re-weight points",
                partial(
                    self._client.update_vectors,
                    self.collection_name,
                    points=vectors,
                    update_filter=_unchanged(page),
                    wait=True,
                ),
            )
            for payload, ids in payload_groups(page).items():
                group = [point for point in page if point.point_id in set(ids)]
                self._call(
                    "re-weight points",
                    partial(
                        self._client.set_payload,
                        self.collection_name,
                        payload=dict(payload),
                        points=models.FilterSelector(filter=_unchanged(group)),
                        wait=True,
                    ),
                )


def _unchanged(points: Sequence[StoredVector]) -> models.Filter:
    """Matches each of these points while its sync token is the one it was read with."""
    return models.Filter(
        should=[
            models.Filter(
                must=[
                    models.HasIdCondition(has_id=[point.point_id]),
                    models.FieldCondition(key="sync_token", match=models.MatchValue(value=point.token or "")),
                ]
            )
            for point in points
        ]
    )


class _ServerLengths:
    """`LengthStore` over the collection."""

    def __init__(self, index: QdrantServerIndex) -> None:
        self._index = index

    def stored(self, point_ids: Sequence[str]) -> dict[str, Stored]:
        return self._index._stored(point_ids)

    def user_stats(self, tenant_id: str, user_id: str, exclude: set[str]) -> LengthStats | None:
        return records_stats(self._index._user_records(tenant_id, user_id, False), exclude)

    def user_vectors(self, tenant_id: str, user_id: str) -> Iterator[StoredVector]:
        for record in self._index._user_records(tenant_id, user_id, True):
            yield stored_vector(record, SPARSE)

    def rewrite(self, points: Sequence[StoredVector]) -> None:
        self._index._rewrite(points)


def _payload(document: IndexDocument) -> dict[str, Any]:
    """The shared payload (`qdrant_common`) and the memory version the upsert guard compares (`versions`)."""
    payload = document_payload(document)
    version = token_version(document.sync_token)
    if version is not None:
        payload[VERSION] = version
    return payload


def _public_address(url: str) -> str:
    """The URL without user info, query or fragment: fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")
