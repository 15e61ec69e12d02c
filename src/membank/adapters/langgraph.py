"""LangGraph's long-term memory store over MemBank: `MemBankStore`, a `langgraph.store.base.BaseStore`.

    from langgraph.graph import StateGraph
    from membank.adapters.langgraph import MemBankStore
    from membank.client import AsyncMemBank, MemBank

    store = MemBankStore(MemBank(url, api_key=key), aclient=AsyncMemBank(url, api_key=key))
    graph = StateGraph(State).add_node(...).compile(store=store)

One LangGraph item is one MemBank memory of the user `namespace[0]` (or of the store's fixed `user_id`). The
memory's metadata holds the item: `metadata.value` is the value, `metadata.langgraph` its key, namespace (also
as `labels` "0", "1", ... and `depth`, so that a namespace prefix is a metadata filter) and first creation
time; the content (what MemBank embeds and searches) is the value's text (see `MemBankStore`). A put to an
existing item updates its memory, which MemBank supersedes with a new version and keeps in its history; a
delete ends the memory's validity (history kept). Only `membank.client` is used: the store works against any
MemBank server.

Each operation is written once, as a plan: a generator that yields the SDK calls it needs (`Call`) and
receives their answers; `batch` runs plans on the sync client, `abatch` on the async one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base import validate_op_namespace as validate_labels

from membank.client import AsyncMemBank, MemBank, Memory, MemoryPage, SearchResult

__all__ = ["MemBankStore"]

T = TypeVar("T")
# A method of `client.memories`, its positional and its keyword arguments.
Call = tuple[str, tuple[Any, ...], dict[str, Any]]
Plan = Generator[Call, Any, T]

# MemBank's user ids (memories/schemas.py IDENTIFIER_PATTERN), checked here so that a bad namespace[0] is
# LangGraph's InvalidNamespaceError, not a validation error of some later request.
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$")
# A value field that a metadata filter can name (search/filters.py: metadata keys); others are matched here.
FILTER_FIELD = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# MemBank's filters have at most 64 conditions: the labels, the depth, the key and some value fields.
MAX_DEPTH = 48
PAGE = 100  # the largest page of GET /users/{id}/memories, and the most hits a search returns
MAX_CONTENT = 20_000
# A search must have query text; finding an item by its key is done by the filter, not by this text.
LOOKUP_QUERY = "langgraph item"
TEXT_FIELDS = ("text", "content", "memory")


class MemBankStore(BaseStore):
    """A LangGraph `BaseStore` whose items are MemBank memories.

    `client` serves `batch` (and LangGraph's sync methods: `get`, `put`, `search`, ...), `aclient` serves
    `abatch` (`aget`, `aput`, ...): give the one(s) your graph uses. The store does not close them.

    Users: without `user_id`, the first label of a namespace is the MemBank user (("alice", "memories")
    lives among alice's memories, under her API key's access rules); with `user_id`, every namespace lives
    in that one user. A search or `list_namespaces` must then name a user: a namespace prefix whose first
    label is not "*".

    Content: MemBank embeds and searches one text per memory. It is the put's `index` fields (dotted
    paths, e.g. ["memory", "profile.name"]) joined, else the value's first text field of `text`,
    `content`, `memory`, else the value as JSON; `index=False` is accepted, but MemBank indexes every
    memory (a query may find the item by its JSON). TTLs are not supported (`supports_ttl` is False:
    MemBank's memories expire by governance policy, not per item)."""

    supports_ttl = False

    def __init__(
        self,
        client: MemBank | None = None,
        *,
        aclient: AsyncMemBank | None = None,
        user_id: str | None = None,
    ) -> None:
        if client is None and aclient is None:
            raise ValueError("MemBankStore needs a MemBank client, an AsyncMemBank client or both")
        if user_id is not None and not USER_ID.match(user_id):
            raise ValueError(f"user_id {user_id!r} is not a MemBank user id ({USER_ID.pattern})")
        self.client = client
        self.aclient = aclient
        self.user_id = user_id

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        if self.client is None:
            raise RuntimeError("MemBankStore was made without a sync MemBank client: use the async methods")
        return [drive(self.client, self._plan(op)) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self.aclient is None:
            raise RuntimeError("MemBankStore was made without an AsyncMemBank client: use the sync methods")
        return [await adrive(self.aclient, self._plan(op)) for op in ops]

    def _plan(self, op: Op) -> Plan[Result]:
        validate_labels(op)
        if isinstance(op, GetOp):
            return self._get(op)
        if isinstance(op, PutOp):
            return self._put(op)
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise TypeError(f"unknown LangGraph store operation {op!r}")

    def _get(self, op: GetOp) -> Plan[Item | None]:
        found = yield from self._locate(op.namespace, op.key)
        return to_item(found) if found else None

    def _put(self, op: PutOp) -> Plan[None]:
        if op.ttl is not None:
            raise NotImplementedError("MemBankStore does not support TTLs (supports_ttl is False)")
        found = yield from self._locate(op.namespace, op.key)
        if op.value is None:
            if found:
                yield ("delete", (found.id,), {})
            return None
        stored = {
            "langgraph": {
                **namespace_fields(op.namespace),
                "key": op.key,
                # A new version is a new memory: the item's creation time is its first version's.
                "created_at": to_item(found).created_at.isoformat() if found else None,
            },
            "value": dict(op.value),
        }
        content = item_text(op.value, op.index)
        if found:
            yield ("update", (found.id,), {"content": content, "metadata": stored})
        else:
            yield ("create", (self._user(op.namespace), content), {"metadata": stored})
        return None

    def _locate(self, namespace: tuple[str, ...], key: str) -> Plan[Memory | None]:
        """The current memory of an item, found by a filter on its namespace and key."""
        user = self._user(namespace)
        conditions = [*namespace_conditions(namespace), condition("depth", len(namespace))]
        conditions.append(condition("key", key))
        result: SearchResult = yield (
            "search",
            (user, LOOKUP_QUERY),
            {"limit": 1, "filters": all_of(conditions)},
        )
        return result.memories[0] if result.memories else None

    def _search(self, op: SearchOp) -> Plan[list[SearchItem]]:
        prefix = op.namespace_prefix
        user = self._user(prefix)
        wanted = op.filter or {}
        if op.limit <= 0:
            return []
        if op.query and op.query.strip():
            pushed = value_conditions(wanted)
            conditions = [*namespace_conditions(prefix), depth_at_least(prefix), *pushed]
            # The server applies a filter of scalar fields exactly; any other is checked here, on the top hits.
            wanted_hits = op.offset + op.limit if len(pushed) == len(wanted) else PAGE
            result: SearchResult = yield (
                "search",
                (user, op.query),
                {"limit": min(wanted_hits, PAGE), "filters": all_of(conditions)},
            )
            hits = [
                hit
                for hit in result.memories
                if is_item(hit) and value_matches(hit.metadata["value"], wanted)
            ]
            window = hits[op.offset : op.offset + op.limit]
            return [to_search_item(hit, hit.score) for hit in window]

        def kept(memory: Memory) -> bool:
            return in_namespace(memory, prefix) and value_matches(memory.metadata["value"], wanted)

        found = yield from self._scan(user, kept, enough=op.offset + op.limit)
        return [to_search_item(memory, None) for memory in found[op.offset : op.offset + op.limit]]

    def _list_namespaces(self, op: ListNamespacesOp) -> Plan[list[tuple[str, ...]]]:
        conditions = op.match_conditions or ()
        user = self.user_id or named_user(conditions)
        namespaces = {
            tuple(m.metadata["langgraph"]["namespace"]) for m in (yield from self._scan(user, is_item))
        }
        kept = [ns for ns in namespaces if all(namespace_matches(c, ns) for c in conditions)]
        if op.max_depth is not None:
            kept = [ns[: op.max_depth] for ns in kept]
        return sorted(set(kept))[op.offset : op.offset + op.limit]

    def _scan(
        self, user: str, keep: Callable[[Memory], bool], enough: int | None = None
    ) -> Plan[list[Memory]]:
        """The user's current items that `keep` keeps, most recently updated first; the scan stops once
        `enough` are found."""
        items: list[Memory] = []
        offset = 0
        while True:
            page: MemoryPage = yield (
                "list",
                (user,),
                {"limit": PAGE, "offset": offset, "sort_by": "updated_at", "sort_order": "desc"},
            )
            items.extend(m for m in page.memories if is_item(m) and keep(m))
            offset += len(page.memories)
            if not page.memories or offset >= page.total or (enough is not None and len(items) >= enough):
                return items

    def _user(self, namespace: tuple[str, ...]) -> str:
        if len(namespace) > MAX_DEPTH:
            raise InvalidNamespaceError(f"MemBankStore namespaces have at most {MAX_DEPTH} labels")
        if self.user_id is not None:
            return self.user_id
        if not namespace:
            raise InvalidNamespaceError(
                "MemBankStore needs a namespace whose first label is the MemBank user id (or a store made "
                "with user_id=...)"
            )
        user = namespace[0]
        if not USER_ID.match(user):
            raise InvalidNamespaceError(
                f"the first namespace label {user!r} is the MemBank user id: 1 to 128 letters, digits or "
                "_ . : @ - starting with a letter or digit"
            )
        return user


def drive(client: MemBank, plan: Plan[T]) -> T:
    """Run a plan on the sync client."""
    try:
        name, args, kwargs = next(plan)
        while True:
            name, args, kwargs = plan.send(getattr(client.memories, name)(*args, **kwargs))
    except StopIteration as done:
        result: T = done.value
        return result


async def adrive(client: AsyncMemBank, plan: Plan[T]) -> T:
    """Run a plan on the async client."""
    try:
        name, args, kwargs = next(plan)
        while True:
            name, args, kwargs = plan.send(await getattr(client.memories, name)(*args, **kwargs))
    except StopIteration as done:
        result: T = done.value
        return result


def namespace_fields(namespace: tuple[str, ...]) -> dict[str, Any]:
    return {
        "namespace": list(namespace),
        "labels": {str(i): label for i, label in enumerate(namespace)},
        "depth": len(namespace),
    }


def condition(field: str, value: Any, op: str = "eq") -> dict[str, Any]:
    return {"field": f"metadata.langgraph.{field}", "op": op, "value": value}


def namespace_conditions(prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [condition(f"labels.{i}", label) for i, label in enumerate(prefix)]


def depth_at_least(prefix: tuple[str, ...]) -> dict[str, Any]:
    # Also what marks a memory as a LangGraph item, for a store with a fixed user and an empty prefix.
    return condition("depth", max(len(prefix), 1), "gte")


def value_conditions(wanted: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The part of a LangGraph filter that MemBank's filter language can say: a field equal to a scalar.
    The whole filter is checked on every hit (`value_matches`): this only narrows what the server sends."""
    return [
        {"field": f"metadata.value.{field}", "op": "eq", "value": expected}
        for field, expected in wanted.items()
        if FILTER_FIELD.match(field) and isinstance(expected, str | int | float | bool)
    ]


def all_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return conditions[0] if len(conditions) == 1 else {"AND": conditions}


def is_item(memory: Memory) -> bool:
    meta = memory.metadata.get("langgraph")
    return isinstance(meta, dict) and "key" in meta and "namespace" in meta and "value" in memory.metadata


def in_namespace(memory: Memory, prefix: tuple[str, ...]) -> bool:
    # A search prefix is literal (LangGraph's "*" wildcards are list_namespaces' only).
    return tuple(memory.metadata["langgraph"]["namespace"])[: len(prefix)] == prefix


def named_user(conditions: tuple[MatchCondition, ...]) -> str:
    for match in conditions:
        if match.match_type == "prefix" and match.path and match.path[0] != "*":
            return str(match.path[0])
    raise ValueError(
        "MemBankStore.list_namespaces needs a prefix naming the user (its first label), or a store made with "
        "user_id=...: MemBank lists namespaces within one user"
    )


def namespace_matches(match: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """LangGraph's prefix and suffix conditions, with "*" matching any one label."""
    path = tuple(match.path)
    if len(namespace) < len(path):
        return False
    if match.match_type == "prefix":
        compared = zip(namespace, path, strict=False)
    elif match.match_type == "suffix":
        compared = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"unknown namespace match type {match.match_type!r}")
    return all(wanted in ("*", label) for label, wanted in compared)


def value_matches(value: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """LangGraph's filter semantics: each field equals (nested objects and lists compared as JSON) or
    meets its operators ($eq, $ne, $gt, $gte, $lt, $lte)."""
    return all(matches(value.get(field), expected) for field, expected in wanted.items())


def matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if any(str(k).startswith("$") for k in expected):
            return all(meets(actual, op, operand) for op, operand in expected.items())
        return isinstance(actual, dict) and value_matches(actual, expected)
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(matches(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def meets(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(actual == operand)
    if op == "$ne":
        return bool(actual != operand)
    if op not in ("$gt", "$gte", "$lt", "$lte"):
        raise ValueError(f"unsupported filter operator {op!r}: $eq, $ne, $gt, $gte, $lt, $lte")
    if not isinstance(actual, int | float) or isinstance(actual, bool):
        return False
    number = float(operand)
    return {
        "$gt": actual > number,
        "$gte": actual >= number,
        "$lt": actual < number,
        "$lte": actual <= number,
    }[op]


def item_text(value: Mapping[str, Any], index: Any) -> str:
    """The text MemBank embeds for a value (see MemBankStore's docstring)."""
    if isinstance(index, list) and index:
        parts = [field_text(value, path) for path in index]
        text = "\n".join(part for part in parts if part.strip())
    else:
        text = next((value[f] for f in TEXT_FIELDS if isinstance(value.get(f), str) and value[f].strip()), "")
    if not text.strip():
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text[:MAX_CONTENT]


def field_text(value: Mapping[str, Any], path: str) -> str:
    found: Any = value
    for part in path.split("."):
        if not isinstance(found, Mapping) or part not in found:
            return ""
        found = found[part]
    return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False, default=str)


def to_item(memory: Memory) -> Item:
    meta = memory.metadata["langgraph"]
    return Item(
        value=memory.metadata["value"],
        key=meta["key"],
        namespace=tuple(meta["namespace"]),
        created_at=first_created(memory),
        updated_at=memory.updated_at,
    )


def to_search_item(memory: Memory, score: float | None) -> SearchItem:
    meta = memory.metadata["langgraph"]
    return SearchItem(
        namespace=tuple(meta["namespace"]),
        key=meta["key"],
        value=memory.metadata["value"],
        created_at=first_created(memory),
        updated_at=memory.updated_at,
        score=score,
    )


def first_created(memory: Memory) -> datetime:
    stored = memory.metadata["langgraph"].get("created_at")
    return datetime.fromisoformat(stored) if isinstance(stored, str) else memory.created_at
