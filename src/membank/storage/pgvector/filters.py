"""Compile the filter tree (`membank.storage.filters`) into SQL over the ``fields`` JSONB of a document.

Every value and every key reaches PostgreSQL as a bound parameter; the only SQL text written here is ours
(operators, two constant JSON paths). How each operator keeps the documented semantics:

- ``eq``: JSONB containment, ``fields @> {"a": {"b": v}}`` or ``fields @> {"a": {"b": [v]}}`` (the value, or an
  element of the array, at the path). JSONB compares like JSON: ``true`` is not ``1``, ``2`` equals ``2.0``.
  Containment is what the GIN index (``jsonb_path_ops``) serves.
- ``ne``/``nin``: NOT eq / NOT in, which is true when the field is missing.
- ``gt gte lt lte``: the constant JSON path ``$ ? (@ > $v)`` on the value at the path (lax mode: an array is
  compared element-wise; a string, boolean or object is never in a numeric range); false when missing.
- ``contains``: some string (the value, or a string element of the array) holds the text, case-sensitive
  (``strpos``), false on numbers and booleans.

The value at a path is read with ``->`` one key at a time: on an array ``-> '0'`` is NULL, where ``#>`` would
index it, so ``metadata.labels.0`` never means the first label (as on Qdrant, which has no such path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.types import Boolean, Text

from membank.models import Scope
from membank.storage.filters import METADATA_PREFIX, And, Condition, FilterNode, Not, Or
from membank.storage.pgvector.tables import documents

__all__ = ["compile_filter", "scope_clause", "validity_clause"]

D = documents.c
_RANGE_PATHS = {
    "gt": "$ ? (@ > $v)",
    "gte": "$ ? (@ >= $v)",
    "lt": "$ ? (@ < $v)",
    "lte": "$ ? (@ <= $v)",
}
_STRINGS = '$ ? (@.type() == "string")'


def scope_clause(scope: Scope, *, as_of: float | None, node: FilterNode | None) -> ColumnElement[bool]:
    """Tenant always, user/agent/session when set, validity at `as_of` when given, and the filter."""
    clauses: list[ColumnElement[bool]] = [D.tenant_id == scope.tenant_id]
    for column, value in (
        (D.user_id, scope.user_id),
        (D.agent_id, scope.agent_id),
        (D.session_id, scope.session_id),
    ):
        if value is not None:
            clauses.append(column == value)
    if as_of is not None:
        clauses.append(validity_clause(as_of))
    if node is not None:
        clauses.append(compile_filter(node))
    return and_(*clauses)


def validity_clause(as_of: float) -> ColumnElement[bool]:
    """valid_from <= as_of AND (valid_to missing OR valid_to > as_of)."""
    return and_(D.valid_from <= as_of, or_(D.valid_to.is_(None), D.valid_to > as_of))


def compile_filter(node: FilterNode) -> ColumnElement[bool]:
    """One SQL condition with exactly the semantics of `node`."""
    if isinstance(node, And):
        return and_(true(), *(compile_filter(item) for item in node.items))
    if isinstance(node, Or):
        return or_(false(), *(compile_filter(item) for item in node.items))
    if isinstance(node, Not):
        return not_(compile_filter(node.item))
    return _condition(node)


def _condition(condition: Condition) -> ColumnElement[bool]:
    op, value, path = condition.op, condition.value, _path(condition.field)
    if op == "eq":
        return _equals(path, value)
    if op == "ne":
        return not_(_equals(path, value))
    if op == "in":
        return _any_of(path, value)
    if op == "nin":
        return not_(_any_of(path, value))
    if op in _RANGE_PATHS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"operator {op} needs a number, got {value!r}")
        matched = func.jsonb_path_exists(
            _value_at(path),
            cast(_text(_RANGE_PATHS[op]), JSONPATH),
            # The number as JSON, exactly: a float8 parameter would reach jsonb through its shortest decimal,
            # which moves the 64-bit bounds (-2**63 would become -9223372036854776000).
            bindparam(None, {"v": value}, type_=JSONB),
            type_=Boolean,
        )
        return func.coalesce(matched, false(), type_=Boolean)
    if op == "contains":
        return _contains(path, str(value))
    raise ValueError(f"unknown filter operator {op!r}")


def _equals(path: list[str], value: Any) -> ColumnElement[bool]:
    return or_(_contains_document(path, value), _contains_document(path, [value]))


def _any_of(path: list[str], values: Sequence[Any]) -> ColumnElement[bool]:
    return or_(false(), *(_equals(path, value) for value in values))


def _contains_document(path: list[str], leaf: Any) -> ColumnElement[bool]:
    document: Any = leaf
    for key in reversed(path):
        document = {key: document}
    return D.fields.op("@>", return_type=Boolean)(bindparam(None, document, type_=JSONB))


def _contains(path: list[str], text: str) -> ColumnElement[bool]:
    strings = (
        func.jsonb_path_query(_value_at(path), cast(_text(_STRINGS), JSONPATH))
        .table_valued("item")
        .render_derived()
    )
    # `#>> '{}'` is the text of a JSON string (a constant of ours, not a value).
    found = func.strpos(strings.c.item.op("#>>", return_type=Text)(literal_column("'{}'")), _text(text)) > 0
    return exists(select(literal(1)).select_from(strings).where(found))


def _value_at(path: list[str]) -> ColumnElement[Any]:
    value: ColumnElement[Any] = D.fields
    for key in path:
        value = value.op("->", return_type=JSONB)(_text(key))
    return value


def _text(value: str) -> ColumnElement[str]:
    """A bound text parameter, typed on the server (an untyped one can be ambiguous to an operator)."""
    return cast(bindparam(None, value, type_=Text), Text)


def _path(field: str) -> list[str]:
    if field.startswith(METADATA_PREFIX):
        return ["metadata", *field[len(METADATA_PREFIX) :].split(".")]
    return [field]
