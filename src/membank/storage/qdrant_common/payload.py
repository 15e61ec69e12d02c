"""How an `IndexDocument` is laid out as a Qdrant point, on Qdrant Edge and on a Qdrant server alike.

Payload keys (top level, every one filterable)::

    id            the memory id, only when it is not a canonical UUID (the point id is then its UUIDv5)
    tenant_id user_id agent_id session_id memory_type      keyword; agent/session absent when None
    tags entities                                           keyword arrays
    importance                                              integer
    created_at updated_at valid_from valid_to               float epoch seconds; valid_to absent when open
    metadata      the metadata tree without its booleans
    metadata_bool the booleans of the metadata tree, as 1/0, at the same paths
    (agent_id, session_id, valid_to, tags, entities, metadata, metadata_bool are absent when None/empty)
    sync_token

Booleans live apart because the Qdrant Edge binding turns ``MatchValue(True)`` into the integer 1 (``bool`` is
an ``int``), so a boolean can never be matched where it is stored as JSON ``true``. qdrant-client sends a real
``true``, but one layout for both keeps one filter compiler (`filters`) and one set of tests. In `metadata_bool` only
booleans exist, so matching 1/0 there is exact, and `metadata` keeps JSON semantics (``true`` is not ``1``).
The text is not stored: only its BM25 sparse vector is.
"""

from __future__ import annotations

import uuid
from typing import Any

from membank.storage.ports import IndexDocument

DENSE = "dense"
SPARSE = "bm25"
METADATA = "metadata"
METADATA_BOOL = "metadata_bool"
# The payload indexes: `tenant_id` is the tenant partition (`is_tenant`), the others serve filters.
TENANT_FIELD = "tenant_id"
INDEXED_KEYWORDS = ("user_id", "agent_id", "session_id", "memory_type", "tags", "entities")
INDEXED_INTEGERS = ("importance",)
INDEXED_FLOATS = ("created_at", "updated_at", "valid_from", "valid_to")
# What a hit reads of its point's payload.
HIT_FIELDS = ["id", "importance", "created_at"]
# Non-UUID memory ids are mapped to a stable UUID; the original id is kept in the payload.
_ID_NAMESPACE = uuid.UUID("6f1d8a52-3c55-4f4e-9a51-7c0d5e0b7a11")
_MISSING: Any = object()


def point_id(memory_id: str) -> str:
    """The point id of a memory: its UUID in canonical form, or a UUIDv5 of any other string."""
    try:
        return str(uuid.UUID(memory_id))
    except ValueError:
        return str(uuid.uuid5(_ID_NAMESPACE, memory_id))


def scalar_fields(document: IndexDocument) -> dict[str, Any]:
    """The filterable fields of a document but its metadata, as every index lays them out (the pgvector
    index keeps the same layout in JSONB). Empty and None values are left out: to a filter, a missing field,
    an empty array and an empty object are alike (eq/contains/ranges false, ne/nin true)."""
    fields: dict[str, Any] = {
        "tenant_id": document.tenant_id,
        "user_id": document.user_id,
        "memory_type": document.memory_type,
        "importance": int(document.importance),
        "created_at": float(document.created_at),
        "updated_at": float(document.updated_at),
        "valid_from": float(document.valid_from),
    }
    optional = {
        "valid_to": None if document.valid_to is None else float(document.valid_to),
        "agent_id": document.agent_id,
        "session_id": document.session_id,
        "tags": list(document.tags),
        "entities": list(document.entities),
    }
    fields.update((key, value) for key, value in optional.items() if value is not None and value != [])
    return fields


def document_payload(document: IndexDocument) -> dict[str, Any]:
    """The payload of a document: its scalar fields, the sync token, the memory id when it is not the point
    id, and the metadata split into plain values and booleans (every key costs time in the binding, so empty
    parts are left out)."""
    payload = scalar_fields(document)
    payload["sync_token"] = document.sync_token
    if point_id(document.id) != document.id:
        payload["id"] = document.id
    plain, booleans = split_booleans(document.metadata)
    if plain is not _MISSING and plain:
        payload[METADATA] = plain
    if booleans is not _MISSING:
        payload[METADATA_BOOL] = booleans
    return payload


def memory_id(point: Any, payload: dict[str, Any]) -> str:
    """The memory id of a point (a ScoredPoint or Record): in the payload when it is not the point id."""
    if "id" in payload:
        return str(payload["id"])
    return str(point.id)


def split_booleans(value: Any) -> tuple[Any, Any]:
    """Split a JSON tree into (tree without booleans, tree of only booleans as 1/0).

    A part that has nothing left on one side is `_MISSING` there, so the key is absent on that side.
    """
    if isinstance(value, bool):
        return _MISSING, int(value)
    if isinstance(value, dict):
        plain: dict[str, Any] = {}
        booleans: dict[str, Any] = {}
        for key, item in value.items():
            item_plain, item_bool = split_booleans(item)
            if item_plain is not _MISSING:
                plain[key] = item_plain
            if item_bool is not _MISSING:
                booleans[key] = item_bool
        return (plain if plain or not booleans else _MISSING), (booleans or _MISSING)
    if isinstance(value, list | tuple):
        plain_items = [item for item in value if not isinstance(item, bool)]
        bool_items = [int(item) for item in value if isinstance(item, bool)]
        return (plain_items if plain_items or not bool_items else _MISSING), (bool_items or _MISSING)
    return value, _MISSING
