"""Pure data of the domain: no I/O here."""

from membank.models.jobs import Job, JobItem, JobStatus
from membank.models.memory import (
    MEMORY_TYPES,
    Memory,
    MemoryDraft,
    MemoryVersion,
    Provenance,
    Scope,
    content_hash,
    fresh_memory,
    new_memory,
    supersession,
)
from membank.models.principal import ApiKey, Principal, Tenant
from membank.models.time import from_epoch, iso, now_utc, to_epoch

__all__ = [
    "MEMORY_TYPES",
    "ApiKey",
    "Job",
    "JobItem",
    "JobStatus",
    "Memory",
    "MemoryDraft",
    "MemoryVersion",
    "Principal",
    "Provenance",
    "Scope",
    "Tenant",
    "content_hash",
    "fresh_memory",
    "from_epoch",
    "iso",
    "new_memory",
    "now_utc",
    "supersession",
    "to_epoch",
]
