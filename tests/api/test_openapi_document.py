"""The OpenAPI document is the contract: published, typed, with every error status, its codes and security."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.conftest import Api

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def _error_codes(document: dict[str, Any], response: dict[str, Any]) -> list[str]:
    envelope = _resolve(document, response["content"]["application/json"]["schema"])
    info = _resolve(document, envelope["properties"]["error"])
    code = info["properties"]["code"]
    return list(code["enum"]) if "enum" in code else [code["const"]]


def test_published_document_matches_the_running_app(api: Api) -> None:
    served = api.client.get("/openapi.json").json()
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert served == published, "docs/openapi.json is stale: run `make openapi` and commit the result"


def test_every_operation_documents_a_typed_envelope(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for method, path, operation in _operations(document):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, f"{method} {path} documents no success"
        if path in ("/metrics", "/.well-known/jwks.json"):  # Prometheus text; a JWKS is RFC 7517's shape
            continue
        for status, response in successes.items():
            schema = _resolve(document, response["content"]["application/json"]["schema"])
            assert schema["required"] == ["success", "data", "message", "timestamp"], (method, path, status)
            data = schema["properties"]["data"]
            assert "$ref" in data or "anyOf" in data, f"{method} {path} {status}: untyped data"


def test_errors_are_documented_with_their_codes_and_422_is_gone(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}"
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert _error_codes(document, response), f"{method} {path} {status}"
    create = document["paths"]["/api/v1/memories"]["post"]["responses"]
    assert _error_codes(document, create["400"]) == ["VALIDATION_ERROR", "INVALID_USER_ID"]
    assert _error_codes(document, create["401"]) == [
        "UNAUTHORIZED",
        "SIGNATURE_REQUIRED",
        "INVALID_SIGNATURE",
        "SIGNATURE_EXPIRED",
        "REPLAYED_REQUEST",
    ]
    assert _error_codes(document, create["403"]) == [
        "INSUFFICIENT_PERMISSIONS",
        "IP_NOT_ALLOWED",
        "IP_DENIED",
        "MFA_ENROLMENT_REQUIRED",
        "PASSWORD_CHANGE_REQUIRED",
    ]
    assert _error_codes(document, create["409"]) == ["CONFLICT"]
    assert _error_codes(document, create["413"]) == ["PAYLOAD_TOO_LARGE"]
    assert _error_codes(document, create["429"]) == ["RATE_LIMIT_EXCEEDED", "JOB_QUEUE_FULL"]
    assert _error_codes(document, create["503"]) == [
        "BACKEND_UNAVAILABLE",
        "RATE_LIMITER_UNAVAILABLE",
        "EMBEDDING_SERVICE_ERROR",
        "OVERLOADED",
    ]
    for status in ("429", "503"):
        retry_after = create[status]["headers"]["Retry-After"]
        assert retry_after.get("$ref") == "#/components/headers/Retry-After" or (
            retry_after["schema"]["type"] == "integer"
        )
    assert set(create["201"]["headers"]) == {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }
    assert "Retry-After" in create["429"]["headers"]
    assert "headers" not in create["401"]
    assert "headers" not in document["paths"]["/health"]["get"]["responses"]["200"]
    memory = document["paths"]["/api/v1/memories/{memory_id}"]
    assert _error_codes(document, memory["get"]["responses"]["404"]) == ["MEMORY_NOT_FOUND"]
    assert _error_codes(document, memory["patch"]["responses"]["409"]) == [
        "MEMORY_CHANGED",
        "MEMORY_NOT_CURRENT",
    ]


def test_a_real_error_answer_carries_a_documented_code(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    answers = {
        ("get", "/api/v1/memories/{memory_id}", "404"): api.call("GET", "/api/v1/memories/abc-123"),
        ("get", "/api/v1/memories/{memory_id}", "401"): api.client.get("/api/v1/memories/abc"),
        ("post", "/api/v1/memories", "400"): api.call("POST", "/api/v1/memories", json={"user_id": "u"}),
        ("post", "/api/v1/memories", "403"): api.call(
            "POST", "/api/v1/memories", api.reader_key, json={"user_id": "u", "content": "c"}
        ),
    }
    for (method, path, status), response in answers.items():
        assert str(response.status_code) == status, response.text
        codes = _error_codes(document, document["paths"][path][method]["responses"][status])
        assert response.json()["error"]["code"] in codes


# Operations whose credential is their body (a refresh token), not a key or an access token.
_CREDENTIAL_IN_BODY = {
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/register"),
}


def test_security_schemes_cover_every_api_operation_and_not_health(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key",
    }
    assert schemes["HTTPBearer"]["type"] == "http" and schemes["HTTPBearer"]["scheme"] == "bearer"
    for method, path, operation in _operations(document):
        if path.startswith("/api/") and (method, path) not in _CREDENTIAL_IN_BODY:
            assert operation["security"] == [{"APIKeyHeader": []}, {"HTTPBearer": []}], (method, path)
        else:
            assert "security" not in operation, (method, path)


def test_bearer_and_api_key_both_authenticate(api: Api) -> None:
    by_header = api.client.get("/api/v1/users/u1/memories", headers={"X-API-Key": api.alice_key})
    by_bearer = api.client.get(
        "/api/v1/users/u1/memories", headers={"Authorization": f"Bearer {api.alice_key}"}
    )
    assert by_header.status_code == by_bearer.status_code == 200
    basic = api.client.get("/api/v1/users/u1/memories", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401 and basic.json()["error"]["code"] == "UNAUTHORIZED"


def test_metrics_are_documented_and_served_as_text(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    ok = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/plain"]
    response = api.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "membank_" in response.text


def test_wait_true_documents_200_beside_202(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for path in ("/api/v1/memories", "/api/v1/memories/process-conversation", "/api/v1/memories/batch"):
        responses = document["paths"][path]["post"]["responses"]
        assert {"200", "202"} <= set(responses), path
        assert responses["202"]["headers"]["Location"]
    waited = api.call(
        "POST",
        "/api/v1/memories/process-conversation?wait=true",
        json={"user_id": "u1", "user_input": "I live in Lisbon."},
    )
    assert waited.status_code == 200 and waited.json()["data"]["status"] == "completed"
    queued = api.call(
        "POST", "/api/v1/memories/process-conversation", json={"user_id": "u1", "user_input": "I like tea."}
    )
    assert queued.status_code == 202 and queued.headers["location"].startswith("/api/v1/jobs/")
