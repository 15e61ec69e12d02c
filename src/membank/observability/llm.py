"""The chat model as the operator sees it: a span per call (model, tokens, outcome) and the request count,
latency and cost metrics, around whichever ChatModel bootstrap picked."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanKind

from membank.config import LlmPrice
from membank.observability.metrics import LLM_COST, LLM_LATENCY, LLM_REQUESTS
from membank.observability.tracing import span
from membank.providers.llms.ports import ChatCompletion, ChatMessage, ChatModel


class ObservedChatModel:
    """A ChatModel that measures every call of the one it wraps. `purpose` is the call's schema name (one of
    ours, so a bounded label)."""

    def __init__(self, inner: ChatModel, prices: Mapping[str, LlmPrice]) -> None:
        self._inner = inner
        self._prices = prices

    def __repr__(self) -> str:
        return repr(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # the backend's own extras (breaker, counters) stay reachable

    @property
    def model(self) -> str:
        return self._inner.model

    async def complete_json(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: dict[str, Any],
        schema_name: str,
        max_tokens: int,
    ) -> ChatCompletion:
        model = self._inner.model
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.request.max_tokens": max_tokens,
            "membank.llm.purpose": schema_name,
        }
        started = time.perf_counter()
        with span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes) as current:
            try:
                completion = await self._inner.complete_json(
                    messages, schema=schema, schema_name=schema_name, max_tokens=max_tokens
                )
            except Exception:
                # The span itself records the exception and ends with an error status.
                LLM_REQUESTS.labels(schema_name, model, "error").inc()
                LLM_LATENCY.labels(schema_name, model).observe(time.perf_counter() - started)
                current.set_attribute("membank.outcome", "error")
                raise
            usage = completion.usage
            LLM_REQUESTS.labels(schema_name, model, "ok").inc()
            LLM_LATENCY.labels(schema_name, model).observe(time.perf_counter() - started)
            current.set_attributes(
                {
                    "gen_ai.response.model": completion.model,
                    "gen_ai.usage.input_tokens": usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": usage.completion_tokens,
                    "gen_ai.response.finish_reasons": [completion.finish_reason or ""],
                    "membank.outcome": "ok",
                }
            )
            price = self._prices.get(completion.model) or self._prices.get(model)
            if price is not None:
                cost = (usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion) / 1e6
                LLM_COST.labels(schema_name, completion.model).inc(cost)
            return completion

    async def aclose(self) -> None:
        await self._inner.aclose()
