"""Compile the filter tree (`membank.storage.filters`) into Qdrant Edge filters.

How each operator keeps the documented semantics on Qdrant:

- ``eq`` on a string: ``MatchValue``, which on an array matches when some element equals.
- ``eq`` on a number: a closed range ``[v, v]``. ``MatchValue`` takes only str/int/bool and an int does not
  match a stored float (``1`` vs ``1.0``); a range compares numbers as numbers, on arrays element-wise.
- ``eq`` on a boolean: ``MatchValue(1|0)`` on the `metadata_bool` mirror (see `payload`): the binding cannot
  express a boolean match.
- ``ne``/``nin``: ``must_not`` of eq/in, which is true when the field is missing.
- ``gt gte lt lte``: a range, false when the field is missing or not a number.
- ``contains``: ``MatchSubstring`` (case-sensitive; on an array, some element contains it; false on numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import qdrant_edge as q

from membank.models import Scope
from membank.storage.filters import METADATA_PREFIX, And, Condition, FilterNode, Not, Or
from membank.storage.qdrant_edge.payload import METADATA, METADATA_BOOL

Clause = q.FieldCondition | q.IsEmptyCondition | q.HasIdCondition | q.Filter


def scope_filter(scope: Scope, *, as_of: float | None, node: FilterNode | None) -> q.Filter:
    """Tenant always, user/agent/session when set, validity at `as_of` when given, and the user filter."""
    must: list[Clause] = [_match("tenant_id", scope.tenant_id)]
    for key, value in (
        ("user_id", scope.user_id),
        ("agent_id", scope.agent_id),
        ("session_id", scope.session_id),
    ):
        if value is not None:
            must.append(_match(key, value))
    if as_of is not None:
        must.append(validity_filter(as_of))
    if node is not None:
        must.append(compile_filter(node))
    return q.Filter(must=list(must))


def validity_filter(as_of: float) -> q.Filter:
    """valid_from <= as_of AND (valid_to missing OR valid_to > as_of)."""
    open_or_later: list[Clause] = [
        q.IsEmptyCondition("valid_to"),
        q.FieldCondition("valid_to", range=q.RangeFloat(gt=as_of)),
    ]
    return q.Filter(
        must=[
            q.FieldCondition("valid_from", range=q.RangeFloat(lte=as_of)),
            q.Filter(should=list(open_or_later)),
        ]
    )


def compile_filter(node: FilterNode) -> q.Filter:
    """One Qdrant filter with exactly the semantics of `node`."""
    if isinstance(node, And):
        return q.Filter(must=[compile_filter(item) for item in node.items])
    if isinstance(node, Or):
        if not node.items:
            return _nothing()
        return q.Filter(should=[compile_filter(item) for item in node.items])
    if isinstance(node, Not):
        return q.Filter(must_not=[compile_filter(node.item)])
    return _condition(node)


def _condition(condition: Condition) -> q.Filter:
    op, value = condition.op, condition.value
    if op == "eq":
        return q.Filter(must=[_equals(condition.field, value)])
    if op == "ne":
        return q.Filter(must_not=[_equals(condition.field, value)])
    if op == "in":
        return _any_of(condition.field, value)
    if op == "nin":
        return q.Filter(must_not=[_any_of(condition.field, value)])
    if op in ("gt", "gte", "lt", "lte"):
        return q.Filter(
            must=[q.FieldCondition(_path(condition.field), range=q.RangeFloat(**{op: float(value)}))]
        )
    if op == "contains":
        return q.Filter(must=[q.FieldCondition(_path(condition.field), match=q.MatchSubstring(str(value)))])
    raise ValueError(f"unknown filter operator {op!r}")


def _equals(field: str, value: object) -> Clause:
    if isinstance(value, bool):
        return q.FieldCondition(_bool_path(field), match=q.MatchValue(int(value)))
    if isinstance(value, int | float):
        return q.FieldCondition(_path(field), range=q.RangeFloat(gte=float(value), lte=float(value)))
    return _match(_path(field), str(value))


def _any_of(field: str, values: Sequence[object]) -> q.Filter:
    if not values:
        return _nothing()
    strings = [value for value in values if isinstance(value, str)]
    others: list[Clause] = [_equals(field, value) for value in values if not isinstance(value, str)]
    if strings:
        others.append(q.FieldCondition(_path(field), match=q.MatchAny(strings)))
    return q.Filter(should=list(others))


def _match(key: str, value: str) -> q.FieldCondition:
    return q.FieldCondition(key, match=q.MatchValue(value))


def _path(field: str) -> str:
    if field.startswith(METADATA_PREFIX):
        return f"{METADATA}.{field[len(METADATA_PREFIX) :]}"
    return field


def _bool_path(field: str) -> str:
    if field.startswith(METADATA_PREFIX):
        return f"{METADATA_BOOL}.{field[len(METADATA_PREFIX) :]}"
    # Only metadata holds booleans; any other field never equals one.
    return f"{METADATA_BOOL}.__no_such_field__"


def _nothing() -> q.Filter:
    return q.Filter(must=[q.HasIdCondition(set())])
