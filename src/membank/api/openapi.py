"""The OpenAPI document: FastAPI's, made to tell the truth about our errors; and its published form."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from membank.api.middleware import BodyLimits
from membank.api.rate_limits import document_rate_limit_headers
from membank.api.responses import ERROR_MODELS, error_responses
from membank.errors import IpDenied
from membank.models.bounds import json_value_schemas
from membank.search.filters import FILTER_JSON_SCHEMA


def install_openapi(app: FastAPI, *, metadata_depth: int, body_limits: BodyLimits) -> None:
    """Make `app.openapi()` document the error envelopes, each route's body size limit and the global IP
    rules' 403, and drop FastAPI's 422, which we never answer (a request validation error is a 400
    VALIDATION_ERROR in the envelope)."""
    generate = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for route, path in schema.get("paths", {}).items():
                for method, operation in path.items():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    _document_request_gates(responses, body_limits.limit(method.upper(), route))
            document_rate_limit_headers(schema)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            _, defs = models_json_schema(
                [(model, "serialization") for _, model in sorted(ERROR_MODELS.items())],
                ref_template="#/components/schemas/{model}",
            )
            schemas.update(defs.get("$defs", {}))
            schemas["Filter"] = FILTER_JSON_SCHEMA
            schemas.update(json_value_schemas(metadata_depth))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _document_request_gates(responses: dict[str, Any], body_limit: int) -> None:
    # Every route can meet the global IP rules, which answer before anything else; a body over the route's
    # limit is refused before it is read.
    if "403" not in responses:
        responses.update({str(k): v for k, v in error_responses(IpDenied).items()})
    if "413" in responses:
        responses["413"]["description"] += f" (the body is over this route's limit of {body_limit} bytes)"


def openapi_json(app: FastAPI) -> str:
    """The document as published in docs/openapi.json: indented, keys in a stable order, one final newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
