"""What the benchmarks share: one record shape made the same way everywhere, and one way to time.

Machines here are shared and noisy, so runs being compared are interleaved: each round runs every
function once, and each keeps its best time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SCHEMA = {
    "type": "record",
    "name": "bench",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "x", "type": "double"},
        {"name": "y", "type": "double"},
        {"name": "name", "type": "string"},
        {"name": "flag", "type": "boolean"},
    ],
}


def make_records(n: int) -> list[dict]:
    """``n`` records of SCHEMA: 68 bytes each as JSON, 28 as Avro."""
    return [
        {"id": i, "x": i * 0.5, "y": i * 1.25, "name": f"user{i % 1000}", "flag": bool(i & 1)}
        for i in range(n)
    ]


def interleaved(
    fns: dict[str, Callable[[], Any]], repeat: int, *, before: Callable[[], None] | None = None
) -> dict[str, tuple[float, Any]]:
    """Best time of each function over ``repeat`` rounds, and what it returned on that run.

    ``before`` runs untimed ahead of every call (to reset a table, say).
    """
    best: dict[str, tuple[float, Any]] = {name: (float("inf"), None) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if before is not None:
                before()
            t0 = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - t0
            if elapsed < best[name][0]:
                best[name] = (elapsed, result)
    return best


def best_times(
    fns: dict[str, Callable[[], Any]], repeat: int, *, before: Callable[[], None] | None = None
) -> dict[str, float]:
    """:func:`interleaved`, keeping only the times."""
    return {name: t for name, (t, _) in interleaved(fns, repeat, before=before).items()}


def best_pair(first: Callable[[], Any], second: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best times of two functions run in turns (a bare loop and ours)."""
    times = best_times({"first": first, "second": second}, repeat)
    return times["first"], times["second"]
