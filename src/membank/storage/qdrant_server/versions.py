"""An older state of a memory never replaces a newer one in the Qdrant server collection.

Several processes write the collection: outbox appliers of every server, and `membank reindex` / `check
--repair` running online beside them, which read memories before they write them. One that read a memory
before a change must not undo the change it lost the race to. So every upsert carries an ``update_filter``
(applied by the server to each point that exists, atomically with the write; new points are inserted): a
point is replaced only when its stored state is not newer than the incoming one, comparing the memory's
version, then its update time, as the pgvector adapter does. A point without a stored version (written
before this guard) and a document whose sync token has none are always replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client import models

from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.payload import point_id

__all__ = ["VERSION", "not_older", "token_version"]

VERSION = "version"  # payload key of the memory version (this adapter's only; filters never name it)
_UPDATED_AT = "updated_at"


def token_version(token: str) -> int | None:
    """The memory version at the head of a sync token (`storage.ports.sync_token`), None if it has none."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def not_older(documents: Sequence[IndexDocument]) -> models.Filter:
    """The update filter under which each existing point of `documents` is replaced only by a state at
    least as new as its own."""
    return models.Filter(should=[_replaceable(document) for document in documents])


def _replaceable(document: IndexDocument) -> models.Filter:
    this_point = models.HasIdCondition(has_id=[point_id(document.id)])
    version = token_version(document.sync_token)
    if version is None:
        return models.Filter(must=[this_point])
    newer = models.Filter(
        should=[
            models.FieldCondition(key=VERSION, range=models.Range(gt=version)),
            models.Filter(
                must=[
                    models.FieldCondition(key=VERSION, match=models.MatchValue(value=version)),
                    models.FieldCondition(key=_UPDATED_AT, range=models.Range(gt=float(document.updated_at))),
                ]
            ),
        ]
    )
    return models.Filter(must=[this_point], must_not=[newer])
