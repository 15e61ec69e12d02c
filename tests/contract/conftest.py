"""Backends of the `VectorIndex` contract suite.

A backend joins by adding its name to `BACKENDS` and a factory to `FACTORIES`: the factory opens the index
kept at `place` (a directory it may use, or ignore when the backend keeps data elsewhere, e.g. a database
schema named after it) and must, called again with the same place, reopen the same data (restart test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membank.storage.ports import VectorIndex
from membank.storage.qdrant_edge import QdrantEdgeIndex

DIM = 8

IndexFactory = Callable[[Path, int], VectorIndex]
OpenIndex = Callable[[], VectorIndex]

FACTORIES: dict[str, IndexFactory] = {
    "qdrant-edge": lambda place, dim: QdrantEdgeIndex(place, dim),
}
BACKENDS = list(FACTORIES)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def open_index(backend: str, tmp_path: Path) -> Iterator[OpenIndex]:
    """Opens (or, called again, reopens) this test's index; everything opened is closed afterwards."""
    opened: list[VectorIndex] = []

    def open_() -> VectorIndex:
        index = FACTORIES[backend](tmp_path / backend, DIM)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def index(open_index: OpenIndex) -> VectorIndex:
    return open_index()
