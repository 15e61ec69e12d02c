"""Writing documents into the pgvector tables, on a connection whose transaction the caller owns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, any_, bindparam, delete, insert, or_, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.types import Text

from membank.storage.pgvector.keyword import Bm25Terms
from membank.storage.pgvector.tables import documents, terms
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.lengths import Weighted
from membank.storage.qdrant_common.payload import scalar_fields

__all__ = ["check_vectors", "delete_documents", "document_fields", "upsert_documents"]

D = documents.c
T = terms.c


def check_vectors(vectors: Sequence[Sequence[float]], dim: int) -> None:
    """Raise ValueError unless every vector has `dim` finite components (as the Qdrant Edge adapter does)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dim:
        raise ValueError(f"vectors must have {dim} dimensions, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("vectors must be finite")


def upsert_documents(conn: Connection, batch: Sequence[IndexDocument], bm25: Bm25Terms) -> None:
    """Insert or replace `batch` by id (the last of a repeated id wins), except that an older state of a
    memory never replaces a newer one (see `_is_not_older`). Rows are locked in id order, so concurrent
    writers of overlapping batches queue instead of deadlocking."""
    latest = {document.id: document for document in batch}
    ordered = [latest[key] for key in sorted(latest)]
    if not ordered:
        return
    weighted = dict(zip([document.id for document in ordered], bm25.weigh(conn, ordered), strict=True))
    statement = pg_insert(documents)
    upsert = statement.on_conflict_do_update(
        index_elements=[D.id],
        set_={
            column.name: statement.excluded[column.name]
            for column in documents.columns
            if column.name != "id"
        },
        where=_is_not_older(statement.excluded),
    ).returning(D.id)
    result = conn.execute(upsert, [_document_row(document, weighted[document.id]) for document in ordered])
    written = {str(found) for found in result.scalars()}
    _delete_terms(conn, sorted(written))
    rows = [
        row
        for document in ordered
        if document.id in written
        for row in bm25.rows(document, weighted[document.id])
    ]
    if rows:
        conn.execute(insert(terms), rows)


def _is_not_older(incoming: Any) -> ColumnElement[bool]:
    # Several processes apply the outbox, and a rebuild reads memories before it writes them: one that read a
    # memory before a change must not undo the change it lost the race to. States compare by the memory's
    # version, then its update time (both in the sync token); a token without a version always replaces.
    return or_(
        D.version.is_(None),
        incoming.version.is_(None),
        tuple_(D.version, D.updated_at) <= tuple_(incoming.version, incoming.updated_at),
    )


def token_version(token: str) -> int | None:
    """The memory version at the head of a sync token (`storage.ports.sync_token`), None if it has none."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def delete_documents(conn: Connection, ids: Sequence[str]) -> None:
    """Remove documents (their terms go with them: ON DELETE CASCADE); unknown ids are ignored."""
    if ids:
        conn.execute(delete(documents).where(D.id == any_(_ids(sorted(set(ids))))))


def document_fields(document: IndexDocument) -> dict[str, Any]:
    """The filterable fields, laid out like the Qdrant Edge payload (None and empty values left out: to a
    filter, missing, empty array and empty object are alike). Booleans stay JSON booleans: JSONB keeps types."""
    fields = scalar_fields(document)
    if document.metadata:
        fields["metadata"] = dict(document.metadata)
    return fields


def _document_row(document: IndexDocument, weighted: Weighted) -> dict[str, Any]:
    return {
        "id": document.id,
        "tenant_id": document.tenant_id,
        "user_id": document.user_id,
        "agent_id": document.agent_id,
        "session_id": document.session_id,
        "importance": int(document.importance),
        "created_at": float(document.created_at),
        "valid_from": float(document.valid_from),
        "valid_to": None if document.valid_to is None else float(document.valid_to),
        "sync_token": document.sync_token,
        "version": token_version(document.sync_token),
        "updated_at": float(document.updated_at),
        "fields": document_fields(document),
        "embedding": document.vector,
        "bm25_length": weighted.length,
        "bm25_avg": weighted.avg_len,
    }


def _delete_terms(conn: Connection, ids: list[str]) -> None:
    conn.execute(delete(terms).where(T.document_id == any_(_ids(ids))))


def _ids(ids: list[str]) -> Any:
    return bindparam(None, ids, type_=ARRAY(Text))
