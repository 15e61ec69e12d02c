"""The filter language of requests: JSON parsed and validated once into the filter tree that every index
backend compiles (`membank.storage.filters`, which also states the semantics of each operator).

Wire form (JSON)::

    {"field": "metadata.project", "op": "eq", "value": "apollo"}
    {"AND": [<filter>, ...]}   {"OR": [<filter>, ...]}   {"NOT": <filter>}
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from membank.errors import ValidationFailed
from membank.models.time import TIME_RANGE, epoch_in_time_range, in_time_range
from membank.storage.filters import (
    ARRAY_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    METADATA_PREFIX,
    OPS,
    TIME_FIELDS,
    And,
    Condition,
    FilterNode,
    Not,
    Or,
)

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}(\.[A-Za-z0-9_\-]{1,64}){0,3}$")
MAX_DEPTH = 6
MAX_CONDITIONS = 64
MAX_LIST = 100

Scalar = str | int | float | bool

_REF = {"$ref": "#/components/schemas/Filter"}
_FIELD_PATTERN = (
    "^(" + "|".join(sorted(KEYWORD_FIELDS | ARRAY_FIELDS | INTEGER_FIELDS | TIME_FIELDS)) + ")$"
    "|^metadata\\.[A-Za-z0-9_\\-]{1,64}(\\.[A-Za-z0-9_\\-]{1,64}){0,3}$"
)
# The grammar of a filter tree for the OpenAPI document (components/schemas/Filter). What it cannot say is
# checked when parsing and answered with 400 VALIDATION_ERROR naming the place: the value's type for the field
# and operator, at most MAX_DEPTH levels and MAX_CONDITIONS conditions.
FILTER_JSON_SCHEMA: dict[str, Any] = {
    "description": "A condition, or AND/OR of filters, or NOT of a filter (see the filter language).",
    "oneOf": [
        {
            "title": "Condition",
            "type": "object",
            "properties": {
                "field": {"type": "string", "pattern": _FIELD_PATTERN},
                "op": {"type": "string", "enum": list(OPS)},
                "value": {"description": "A string, number, boolean or time; a list of 1 to 100 for in/nin"},
            },
            "required": ["field", "op", "value"],
            "additionalProperties": False,
        },
        *(
            {
                "title": key,
                "type": "object",
                "properties": {key: {"type": "array", "items": _REF, "minItems": 1}},
                "required": [key],
                "additionalProperties": False,
            }
            for key in ("AND", "OR")
        ),
        {
            "title": "NOT",
            "type": "object",
            "properties": {"NOT": _REF},
            "required": ["NOT"],
            "additionalProperties": False,
        },
    ],
}


def parse_filter(raw: Any, *, path: str = "filters") -> FilterNode:
    """Validate a filter from JSON; errors name the exact place (e.g. ``filters.AND[1].op``)."""
    counter = [0]
    return _parse(raw, path, 0, counter)


def _parse(raw: Any, path: str, depth: int, counter: list[int]) -> FilterNode:
    if depth > MAX_DEPTH:
        raise ValidationFailed.field(path, f"nesting deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise ValidationFailed.field(path, "must be an object")
    logical = [key for key in ("AND", "OR", "NOT") if key in raw]
    if logical:
        if len(raw) != 1:
            raise ValidationFailed.field(path, "a logical node has exactly one key: AND, OR or NOT")
        key = logical[0]
        if key == "NOT":
            return Not(_parse(raw[key], f"{path}.NOT", depth + 1, counter))
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ValidationFailed.field(f"{path}.{key}", "must be a non-empty list of filters")
        parsed = tuple(_parse(item, f"{path}.{key}[{i}]", depth + 1, counter) for i, item in enumerate(items))
        return And(parsed) if key == "AND" else Or(parsed)
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise ValidationFailed.field(path, f"more than {MAX_CONDITIONS} conditions")
    return _parse_condition(raw, path)


def _parse_condition(raw: dict[str, Any], path: str) -> Condition:
    unknown = set(raw) - {"field", "op", "value"}
    if unknown:
        raise ValidationFailed.field(path, f"unknown keys {sorted(unknown)}; expected field, op, value")
    field_name = raw.get("field")
    if not isinstance(field_name, str) or not _known_field(field_name):
        raise ValidationFailed.field(f"{path}.field", f"unknown field {field_name!r}")
    op = raw.get("op")
    if op not in OPS:
        raise ValidationFailed.field(f"{path}.op", f"unknown operator {op!r}; expected one of {list(OPS)}")
    if "value" not in raw:
        raise ValidationFailed.field(f"{path}.value", "is required")
    value = _check_value(field_name, op, raw["value"], f"{path}.value")
    return Condition(field_name, op, value)


def _known_field(name: str) -> bool:
    if name.startswith(METADATA_PREFIX):
        return bool(_METADATA_KEY.match(name[len(METADATA_PREFIX) :]))
    return name in KEYWORD_FIELDS | ARRAY_FIELDS | INTEGER_FIELDS | TIME_FIELDS


def _check_value(field_name: str, op: str, value: Any, path: str) -> Any:
    if op in ("in", "nin"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise ValidationFailed.field(path, f"must be a list of 1 to {MAX_LIST} values")
        return tuple(_scalar(field_name, op, item, f"{path}[{i}]") for i, item in enumerate(value))
    if op in ("gt", "gte", "lt", "lte"):
        if field_name in KEYWORD_FIELDS | ARRAY_FIELDS:
            raise ValidationFailed.field(path, f"operator {op} needs a numeric or time field")
        scalar = _scalar(field_name, op, value, path)
        if isinstance(scalar, bool) or not isinstance(scalar, int | float):
            raise ValidationFailed.field(path, f"operator {op} needs a number")
        return scalar
    if op == "contains":
        if field_name in INTEGER_FIELDS | TIME_FIELDS:
            raise ValidationFailed.field(path, "contains needs a text or array field")
        if not isinstance(value, str) or not value:
            raise ValidationFailed.field(path, "contains needs a non-empty string")
        return value
    return _scalar(field_name, op, value, path)


def _scalar(field_name: str, op: str, value: Any, path: str) -> Scalar:
    if field_name in TIME_FIELDS:
        return parse_time(value, path)
    if field_name in INTEGER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed.field(path, "must be a number")
        return value
    if field_name in KEYWORD_FIELDS | ARRAY_FIELDS:
        if not isinstance(value, str):
            raise ValidationFailed.field(path, "must be a string")
        return value
    if isinstance(value, bool | str | int | float):
        return value
    raise ValidationFailed.field(path, "must be a string, number or boolean")


def parse_time(value: Any, path: str) -> float:
    """An ISO 8601 datetime (naive means UTC) or epoch seconds, as epoch seconds, within the accepted range
    of times (models/time.py)."""
    if isinstance(value, bool):
        raise ValidationFailed.field(path, "must be an ISO 8601 datetime or epoch seconds")
    if isinstance(value, int | float):
        if not epoch_in_time_range(value):
            raise _out_of_range(path)
        return float(value)
    if isinstance(value, str):
        try:
            moment = in_time_range(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            raise ValidationFailed.field(path, f"not an ISO 8601 datetime: {value[:64]!r}") from None
        if moment is None:
            raise _out_of_range(path)
        return moment.timestamp()
    raise ValidationFailed.field(path, "must be an ISO 8601 datetime or epoch seconds")


def _out_of_range(path: str) -> ValidationFailed:
    return ValidationFailed.field(path, f"must lie between {TIME_RANGE} (UTC)")
