"""Run calls on real threads released at the same instant, for the race tests of the contract suites."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def run_together(calls: Sequence[Callable[[], T]], timeout: float = 60.0) -> list[T]:
    """Start one thread per call, release them together (a barrier), wait for all; returns the results in
    the order of `calls` and re-raises the first error any call raised."""
    start = threading.Barrier(len(calls))
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(position: int, call: Callable[[], T]) -> None:
        try:
            start.wait()
            results[position] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    if len(results) != len(calls):
        raise TimeoutError(f"{len(calls) - len(results)} of {len(calls)} calls did not finish in {timeout}s")
    return [results[position] for position in range(len(calls))]
