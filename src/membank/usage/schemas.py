"""The shapes of the usage and capacity answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StorageOut(BaseModel):
    memories: int = Field(description="Stored versions, history included")
    live: int = Field(description="Versions valid now and not deleted")
    content_bytes: int = Field(description="Bytes of content and metadata of the stored versions")
    vectors: int = Field(description="Vectors in the index: one per stored version")


class ActivityOut(BaseModel):
    requests: int = Field(description="Authenticated requests")
    searches: int
    memory_writes: int = Field(description="Memories written through the API and batch imports")
    conversation_facts: int = Field(description="Facts stored from conversations")
    jobs: int = Field(description="Jobs queued")
    embedding_texts: int = Field(description="Texts sent to the embedder (cached ones included)")


class LlmUsageOut(BaseModel):
    model: str
    purpose: str
    runs: int = Field(description="Recorded runs (an extraction window's calls, retries included, are one)")
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float = Field(description="From MEMBANK_LLM_PRICES; 0 for an unpriced model")
    priced: bool


class TenantUsageOut(BaseModel):
    tenant_id: str
    tenant: str | None = Field(description="The tenant's name")
    storage: StorageOut
    activity: ActivityOut
    llm: list[LlmUsageOut]
    llm_cost_usd: float


class TotalsOut(BaseModel):
    tenants: int
    memories: int
    content_bytes: int
    activity: ActivityOut
    llm_cost_usd: float
    llm_tokens: int


class UsageReportOut(BaseModel):
    from_: str = Field(alias="from", description="First UTC day of the period")
    to: str = Field(description="Last UTC day of the period")
    tenants: list[TenantUsageOut]
    totals: TotalsOut
    priced_models: list[str]


class RecommendationOut(BaseModel):
    kind: str
    message: str
    tenant_id: str | None = None
    numbers: dict[str, object] = Field(description="The figures the recommendation rests on")


class CapacityOut(BaseModel):
    forecast: dict[str, object] = Field(
        description="Growth per day of memories, disk and memory use over the daily history, with its"
        " standard error, and the days until full with a ~95 % range"
    )
    recommendations: list[RecommendationOut]


class MonthlyReportOut(UsageReportOut):
    month: str
    forecast: dict[str, object]
    recommendations: list[RecommendationOut]
