"""A synchronous client of the HTTP API."""

from __future__ import annotations

import time
from typing import Any

import httpx


class MemBankAPIError(Exception):
    """An error envelope from the server."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class MemBankClient:
    """Calls the API with an API key; every method returns the envelope's `data`."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 30.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> MemBankClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise MemBankAPIError(response.status_code, "BAD_RESPONSE", response.text[:200]) from None
        if not body.get("success"):
            error = body.get("error", {})
            raise MemBankAPIError(
                response.status_code,
                error.get("code", "UNKNOWN"),
                error.get("message", ""),
                error.get("details"),
            )
        return body["data"]

    def add(self, user_id: str, content: str, **fields: Any) -> dict[str, Any]:
        """Store one memory; returns it with its id."""
        result: dict[str, Any] = self._call(
            "POST", "/api/v1/memories", json={"user_id": user_id, "content": content, **fields}
        )
        return result

    def get(self, memory_id: str) -> dict[str, Any]:
        """One memory by id."""
        result: dict[str, Any] = self._call("GET", f"/api/v1/memories/{memory_id}")
        return result

    def search(self, user_id: str, query: str, **options: Any) -> list[dict[str, Any]]:
        """Memories of a user ranked for the query (each with `score`)."""
        data = self._call(
            "POST", "/api/v1/memories/search", json={"user_id": user_id, "query": query, **options}
        )
        memories: list[dict[str, Any]] = data["memories"]
        return memories

    def batch(
        self,
        memories: list[dict[str, Any]],
        *,
        skip_duplicates: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue a batch import; returns the job."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = self._call(
            "POST",
            "/api/v1/memories/batch",
            headers=headers,
            json={"memories": memories, "options": {"skip_duplicates": skip_duplicates}},
        )
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's state."""
        result: dict[str, Any] = self._call("GET", f"/api/v1/jobs/{job_id}")
        return result

    def wait_for_job(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.2) -> dict[str, Any]:
        """Poll a job until it is completed or dead."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in ("completed", "dead") or time.monotonic() > deadline:
                return job
            time.sleep(poll)
