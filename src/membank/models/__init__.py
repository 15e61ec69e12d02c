"""Pure data of the domain: no I/O here."""

from membank.models.jobs import Job, JobItem, JobStatus
from membank.models.memory import (
    MEMORY_TYPES,
    Memory,
    MemoryVersion,
    Provenance,
    Scope,
    content_hash,
    fresh_memory,
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
    "MemoryVersion",
    "Principal",
    "Provenance",
    "Scope",
    "Tenant",
    "content_hash",
    "fresh_memory",
    "from_epoch",
    "iso",
    "now_utc",
    "to_epoch",
]
