"""Operating the service: client.admin, client.usage, client.security_events, client.health."""

from __future__ import annotations

from membank.client.endpoint import Parts, Resource, TransportT, endpoint
from membank.client.resources.answers import as_json, as_text

__all__ = ["Admin", "Health", "SecurityEvents", "Usage"]


class Admin(Resource[TransportT]):
    @endpoint("GET", "/api/v1/admin/usage", as_json)
    def usage(
        self, *, since: str | None = None, until: str | None = None, tenant: str | None = None
    ) -> Parts:
        """Requests and LLM use per tenant and day, between the dates `since` and `until`."""
        return Parts(query={"from": since, "to": until, "tenant": tenant})

    @endpoint("GET", "/api/v1/admin/usage/monthly", as_json)
    def usage_monthly(self, *, month: str | None = None, tenant: str | None = None) -> Parts:
        """One month's usage report (`month` as YYYY-MM)."""
        return Parts(query={"month": month, "tenant": tenant})

    @endpoint("GET", "/api/v1/admin/capacity", as_json)
    def capacity(self) -> Parts:
        """Storage, memory counts and the recommendations that follow from them."""
        return Parts()

    @endpoint("GET", "/api/v1/admin/diagnostics", as_json)
    def diagnostics(self) -> Parts:
        """Consistency of the system of record and the derived indexes."""
        return Parts()

    @endpoint("POST", "/api/v1/admin/diagnostics/repair", as_json)
    def repair(self) -> Parts:
        """Repair what diagnostics found."""
        return Parts()


class Usage(Resource[TransportT]):
    @endpoint("GET", "/api/v1/usage/llm", as_json)
    def llm(self, *, since: str | None = None) -> Parts:
        """The tenant's LLM tokens and calls."""
        return Parts(query={"since": since})


class SecurityEvents(Resource[TransportT]):
    @endpoint("GET", "/api/v1/security-events", as_json)
    def list(
        self,
        *,
        kind: str | None = None,
        since: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> Parts:
        """Security events (logins, refusals, key changes), oldest first after `after_id`."""
        return Parts(query={"kind": kind, "since": since, "after_id": after_id, "limit": limit})


class Health(Resource[TransportT]):
    @endpoint("GET", "/health", as_json, retries=False)
    def health(self) -> Parts:
        """Each backend's state (an `Unhealthy` error when one is unavailable)."""
        return Parts()

    @endpoint("GET", "/health/live", as_json, retries=False)
    def live(self) -> Parts:
        return Parts()

    @endpoint("GET", "/health/ready", as_json, retries=False)
    def ready(self) -> Parts:
        """Whether to send traffic (a `NotReady` error when not)."""
        return Parts()

    @endpoint("GET", "/metrics", as_text, retries=False, text=True)
    def metrics(self) -> Parts:
        """The Prometheus metrics, as text."""
        return Parts()
