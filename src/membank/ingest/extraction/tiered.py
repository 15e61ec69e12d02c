"""Tiered extraction: the LLM tier first, the heuristic tier whenever the LLM tier cannot answer.

The result says which tier produced the facts and why the first one failed, e.g.
`heuristic (llm failed: HTTP 500 after 4 attempts)`, and keeps the tokens the failed attempts spent so that
cost reports count them. Nothing is silently dropped: whatever makes the primary fail, the fallback runs.
"""

from __future__ import annotations

import structlog

from membank.errors import LLMServiceError
from membank.ingest.extraction.llm import LlmExtractionFailed
from membank.ingest.extraction.ports import Conversation, ExtractionResult, Extractor
from membank.observability.metrics import EXTRACTIONS
from membank.providers.llms.ports import TokenUsage

__all__ = ["FallbackExtractor"]

log = structlog.get_logger(__name__)

REASON_CHARS = 160


class FallbackExtractor:
    """The `Extractor` port: `primary`, or `fallback` when `primary` raises."""

    def __init__(self, primary: Extractor, fallback: Extractor) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}|{fallback.name}"

    async def extract(self, conversation: Conversation) -> ExtractionResult:
        """The primary tier's facts, or the fallback's labelled with the primary's failure."""
        usage: TokenUsage | None = None
        try:
            answered = await self.primary.extract(conversation)
        except LlmExtractionFailed as exc:
            reason, usage = exc.reason, exc.usage
        except LLMServiceError as exc:
            reason = exc.message
        except Exception as exc:
            # A bug in the primary tier must not cost the user their facts: log it loudly, fall back.
            log.exception("extraction.primary_crashed", extractor=self.primary.name)
            reason = f"unexpected {type(exc).__name__}"
        else:
            EXTRACTIONS.labels(self.primary.name, "ok").inc()
            return answered
        EXTRACTIONS.labels(self.primary.name, "fallback").inc()
        log.warning("extraction.fallback", primary=self.primary.name, reason=reason)
        result = await self.fallback.extract(conversation)
        if result.usage is not None:
            usage = result.usage if usage is None else usage + result.usage
        return ExtractionResult(
            facts=result.facts,
            extractor=f"{result.extractor} ({self.primary.name} failed: {_short(reason)})",
            prompt_version=result.prompt_version,
            usage=usage,
            rejected=result.rejected,
            skipped=result.skipped,
        )


def _short(reason: str) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
