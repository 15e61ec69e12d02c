"""Errors of the HTTP layer itself (routing, methods, unreadable bodies, wrong JSON types) in the envelope."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.config import Settings
from tests.api.conftest import Api


def test_an_unknown_route_is_a_404_envelope(api: Api) -> None:
    response = api.call("GET", "/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["success"] is False and response.json()["error"]["code"] == "NOT_FOUND"


def test_405_names_every_method_of_the_path(api: Api) -> None:
    memory = api.add("I live in Lisbon.")
    response = api.call("OPTIONS", f"/api/v1/memories/{memory['id']}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "DELETE, GET, PATCH"


def test_a_method_on_an_action_path_is_a_405_not_a_bad_memory_id(api: Api) -> None:
    for action in ("search", "batch", "process-conversation", "synthesize-context"):
        response = api.call("PATCH", f"/api/v1/memories/{action}", json={"content": "x"})
        assert response.status_code == 405, (action, response.text)
        assert response.headers["allow"] == "POST"
    history = api.call("GET", "/api/v1/memories/search/history")
    assert history.status_code == 404


def test_a_malformed_memory_id_still_names_the_field(api: Api) -> None:
    response = api.call("GET", "/api/v1/memories/not-an-id!")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "memory_id"


def test_a_body_that_is_not_utf8_is_a_validation_error(api: Api) -> None:
    response = api.call(
        "POST", "/api/v1/memories", content=b"\xff\xfe3", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["errors"][0]["field"] == "body"


def test_times_must_be_iso_text_not_epoch_numbers(api: Api) -> None:
    api.add("I live in Lisbon.")
    for value in (1700000000, "1700000000", 0.5):
        body = {"user_id": "u1", "content": "c", "valid_from": value}
        response = api.call("POST", "/api/v1/memories", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["details"]["errors"][0]["field"] == "valid_from"
    listed = api.call("GET", "/api/v1/users/u1/memories").json()["data"]
    assert listed["total"] == 1  # nothing was stored by the refused creates


def test_iso_times_without_an_offset_are_still_taken_as_utc(api: Api) -> None:
    memory = api.add("I moved to Porto.", valid_from="2026-03-01T12:00:00")
    assert memory["valid_from"] == "2026-03-01T12:00:00Z"


def test_llm_usage_since_must_be_a_time(api: Api) -> None:
    response = api.call("GET", "/api/v1/usage/llm?since=0.5")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "since"
    assert api.call("GET", "/api/v1/usage/llm?since=2026-01-01T00:00:00Z").status_code == 200


def test_an_unhandled_error_is_a_500_envelope_with_the_request_id_in_answer_and_log(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(auth_enabled=False))

    async def crash() -> None:
        raise RuntimeError("internal detail: postgres://user:hunter2@db")

    app.add_api_route("/crash", crash)
    with (
        TestClient(app) as client,
        structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs,
    ):
        response = client.get("/crash", headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"] == "trace-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    crashes = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert len(crashes) == 1 and crashes[0]["request_id"] == "trace-123" and crashes[0]["path"] == "/crash"
