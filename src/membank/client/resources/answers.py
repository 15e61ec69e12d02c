"""Readers of answers shared by several resources."""

from __future__ import annotations

from typing import Any

from membank.client.models import JSON, BatchAccepted, Job, Memory

__all__ = ["as_json", "as_text", "job_or_batch", "job_or_memory"]


def as_json(data: Any) -> JSON:
    """An answer returned as the JSON object the server sent."""
    result: JSON = data
    return result


def as_text(text: Any) -> str:
    return str(text)


def job_or_memory(data: Any) -> Memory | Job:
    """A create's answer: the memory (stored as given) or the job (extraction was asked for)."""
    return Job.model_validate(data) if "job_id" in data else Memory.model_validate(data)


def job_or_batch(data: Any) -> Job | BatchAccepted:
    """A batch's answer: the import job (memories) or the accepted batch (conversations)."""
    return BatchAccepted.model_validate(data) if "job_ids" in data else Job.model_validate(data)
