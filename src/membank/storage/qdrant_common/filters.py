"""Compile the filter tree (`membank.storage.filters`) into Qdrant filters, once for every Qdrant adapter.

Qdrant Edge (`qdrant_edge` classes) and a Qdrant server (`qdrant_client.models`) take the same filter
language under different Python classes, so the compiler is written against `FilterModels`, which each adapter
implements with its own classes (`membank.storage.qdrant_edge.filters`, `membank.storage.qdrant_server.filters`).

How each operator keeps the documented semantics on Qdrant (both engines; tests/contract/test_vector_index.py):

- ``eq`` on a string: ``MatchValue``, which on an array matches when some element equals.
- ``eq`` on a number: a closed range ``[v, v]``. ``MatchValue`` takes only str/int/bool and an int does not
  match a stored float (``1`` vs ``1.0``); a range compares numbers as numbers, on arrays element-wise.
- ``eq`` on a boolean: ``MatchValue(1|0)`` on the `metadata_bool` mirror (see `payload`): the Edge binding
  cannot express a boolean match.
- ``ne``/``nin``: ``must_not`` of eq/in, which is true when the field is missing.
- ``gt gte lt lte``: a range, false when the field is missing or not a number (booleans included).
- ``contains``: ``MatchSubstring`` (case-sensitive, byte-wise; on an array, some element contains it; false
  on numbers). Not ``MatchText``: that one tokenizes (whole lowercased words), which is another operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from membank.models import Scope
from membank.storage.filters import METADATA_PREFIX, And, Condition, FilterNode, Not, Or
from membank.storage.qdrant_common.payload import METADATA, METADATA_BOOL, TENANT_FIELD

__all__ = ["FilterCompiler", "FilterModels"]

F = TypeVar("F")  # an engine's filter class
C = TypeVar("C")  # an engine's condition classes (a filter nests as a condition too)


class FilterModels(Protocol[F, C]):
    """The filter classes of one Qdrant engine, behind the names the compiler uses."""

    def filter(
        self, *, must: Sequence[F | C] = (), should: Sequence[F | C] = (), must_not: Sequence[F | C] = ()
    ) -> F:
        """A filter: every `must`, at least one `should` (when any) and no `must_not`."""

    def match_value(self, key: str, value: str | int) -> C:
        """The field (or some element of it) equals `value` exactly."""

    def match_any(self, key: str, values: list[str]) -> C:
        """The field (or some element of it) equals one of `values`."""

    def match_substring(self, key: str, text: str) -> C:
        """The string field (or some string element of it) contains `text`, case-sensitively."""

    def range(
        self,
        key: str,
        *,
        gt: float | None = None,
        gte: float | None = None,
        lt: float | None = None,
        lte: float | None = None,
    ) -> C:
        """The numeric field (or some element of it) is within the bounds."""

    def is_empty(self, key: str) -> C:
        """The field is missing, null or an empty array."""

    def no_point(self) -> C:
        """A condition no point meets (has one of no ids)."""


class FilterCompiler(Generic[F, C]):
    """Scope, validity and filter trees as filters of the engine whose classes `models` names."""

    def __init__(self, models: FilterModels[F, C]) -> None:
        self._m = models

    def scope_filter(self, scope: Scope, *, as_of: float | None, node: FilterNode | None) -> F:
        """Tenant always, user/agent/session when set, validity at `as_of` when given, and the user filter."""
        must: list[F | C] = [self._m.match_value(TENANT_FIELD, scope.tenant_id)]
        for key, value in (
            ("user_id", scope.user_id),
            ("agent_id", scope.agent_id),
            ("session_id", scope.session_id),
        ):
            if value is not None:
                must.append(self._m.match_value(key, value))
        if as_of is not None:
            must.append(self.validity_filter(as_of))
        if node is not None:
            must.append(self.compile(node))
        return self._m.filter(must=must)

    def validity_filter(self, as_of: float) -> F:
        """valid_from <= as_of AND (valid_to missing OR valid_to > as_of)."""
        m = self._m
        open_or_later = m.filter(should=[m.is_empty("valid_to"), m.range("valid_to", gt=as_of)])
        return m.filter(must=[m.range("valid_from", lte=as_of), open_or_later])

    def compile(self, node: FilterNode) -> F:
        """One filter with exactly the semantics of `node`."""
        m = self._m
        if isinstance(node, And):
            return m.filter(must=[self.compile(item) for item in node.items])
        if isinstance(node, Or):
            if not node.items:
                return m.filter(must=[m.no_point()])
            return m.filter(should=[self.compile(item) for item in node.items])
        if isinstance(node, Not):
            return m.filter(must_not=[self.compile(node.item)])
        return self._condition(node)

    def _condition(self, condition: Condition) -> F:
        m, op, value, field = self._m, condition.op, condition.value, condition.field
        if op == "eq":
            return m.filter(must=[self._equals(field, value)])
        if op == "ne":
            return m.filter(must_not=[self._equals(field, value)])
        if op == "in":
            return self._any_of(field, value)
        if op == "nin":
            return m.filter(must_not=[self._any_of(field, value)])
        if op in ("gt", "gte", "lt", "lte"):
            bound = float(value)
            return m.filter(
                must=[
                    m.range(
                        _path(field),
                        gt=bound if op == "gt" else None,
                        gte=bound if op == "gte" else None,
                        lt=bound if op == "lt" else None,
                        lte=bound if op == "lte" else None,
                    )
                ]
            )
        if op == "contains":
            return m.filter(must=[m.match_substring(_path(field), str(value))])
        raise ValueError(f"unknown filter operator {op!r}")

    def _equals(self, field: str, value: object) -> C:
        if isinstance(value, bool):
            return self._m.match_value(_bool_path(field), int(value))
        if isinstance(value, int | float):
            return self._m.range(_path(field), gte=float(value), lte=float(value))
        return self._m.match_value(_path(field), str(value))

    def _any_of(self, field: str, values: Sequence[object]) -> F:
        if not values:
            return self._m.filter(must=[self._m.no_point()])
        strings = [value for value in values if isinstance(value, str)]
        others: list[F | C] = [self._equals(field, value) for value in values if not isinstance(value, str)]
        if strings:
            others.append(self._m.match_any(_path(field), strings))
        return self._m.filter(should=others)


def _path(field: str) -> str:
    if field.startswith(METADATA_PREFIX):
        return f"{METADATA}.{field[len(METADATA_PREFIX) :]}"
    return field


def _bool_path(field: str) -> str:
    if field.startswith(METADATA_PREFIX):
        return f"{METADATA_BOOL}.{field[len(METADATA_PREFIX) :]}"
    # Only metadata holds booleans; any other field never equals one.
    return f"{METADATA_BOOL}.__no_such_field__"
