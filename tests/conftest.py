"""Shared fixtures for the test suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import fastscore_sdk as fs

#: Every engine implementation runs the same engine tests: add a factory here and the whole suite
#: in tests/test_engine.py runs against it.
ENGINE_FACTORIES: dict[str, Callable[[], object]] = {
    "local": lambda: fs.Engine(echo_console=False),
}


@pytest.fixture(params=sorted(ENGINE_FACTORIES))
def make_engine(request) -> Iterator[Callable[[], object]]:
    """A factory of fresh engines of one kind; every engine it made is reset after the test."""
    made = []

    def factory():
        eng = ENGINE_FACTORIES[request.param]()
        made.append(eng)
        return eng

    yield factory
    for eng in made:
        eng.reset()
