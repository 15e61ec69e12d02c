"""The SDK covers the API: every operation of docs/openapi.json is a method of `MemBank` and `AsyncMemBank`
(fails when an endpoint is added without SDK support), and every error code of the server has its class."""

from __future__ import annotations

import inspect
from pathlib import Path

import orjson

import membank.client as sdk
import membank.errors as server_errors
from membank.client.base import RESOURCES
from membank.client.endpoint import Endpoint, Resource

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _spec_operations() -> set[tuple[str, str]]:
    paths = orjson.loads(OPENAPI.read_bytes())["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_operations_are_exactly_the_openapi_operations() -> None:
    declared = set(sdk.OPERATIONS)
    assert len(declared) == len(sdk.OPERATIONS), "an operation is declared twice"
    spec = _spec_operations()
    assert spec - declared == set(), "operations without an SDK method"
    assert declared - spec == set(), "SDK methods of operations the API does not have"


def test_both_twins_carry_every_declared_resource_with_every_method() -> None:
    for cls in (sdk.MemBank, sdk.AsyncMemBank):
        client = cls("http://127.0.0.1:9", api_key="k")
        try:
            bound = {name: getattr(client, name) for name in dir(client) if not name.startswith("_")}
            resources = {name: value for name, value in bound.items() if isinstance(value, Resource)}
            assert {base for r in resources.values() for base in RESOURCES if isinstance(r, base)} == set(
                RESOURCES
            )
            methods = 0
            for resource in resources.values():
                for name, value in inspect.getmembers(type(resource)):
                    if isinstance(value, Endpoint):
                        assert callable(getattr(resource, name))
                        methods += 1
            assert methods == len(sdk.OPERATIONS)
        finally:
            if cls is sdk.MemBank:
                client.close()


def test_every_server_error_code_has_the_same_named_class() -> None:
    server_classes = [
        cls
        for _, cls in inspect.getmembers(server_errors, inspect.isclass)
        if issubclass(cls, server_errors.MemBankError)
    ]
    assert len(server_classes) > 40
    for cls in server_classes:
        mine = getattr(sdk, cls.__name__)
        assert mine.code == cls.code and mine.status == cls.status, cls.__name__
        parent = cls.__mro__[1]
        if parent is not Exception:
            assert mine.__mro__[1].__name__ == parent.__name__, cls.__name__
        assert cls.__name__ in sdk.__all__
