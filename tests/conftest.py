"""Shared fixtures for the test suite."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

import fastscore_sdk as fs
from fastscore_sdk.engine.server import serve

#: Engines the served-engine fixture offers; each remote engine a test makes gets one of its own.
_SERVED_ENGINES = 64


def _local(request: pytest.FixtureRequest) -> object:
    return fs.Engine(echo_console=False)


def _remote(request: pytest.FixtureRequest) -> object:
    # A RemoteEngine over HTTP to a LocalEngine served in this process (with allow_local_streams, so
    # the suite's file and exec streams attach). Every call gets an engine no earlier test used.
    server, names = request.getfixturevalue("served_engines")
    return fs.connect(server.url).engine(next(names))


#: Every engine implementation runs the same engine tests: add a factory (taking the pytest request)
#: here and the whole suite in tests/test_engine.py runs against it.
ENGINE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], object]] = {
    "local": _local,
    "remote": _remote,
}


@pytest.fixture(scope="session")
def served_engines() -> Iterator[tuple[object, Iterator[str]]]:
    """A server of fresh local engines for the whole session, and an endless supply of their names."""
    engines = [fs.Engine(f"engine-{i}", echo_console=False) for i in range(1, _SERVED_ENGINES + 1)]
    server = serve(engines, port=0, allow_local_streams=True)
    try:
        yield server, itertools.cycle(e.name for e in engines)
    finally:
        server.stop()
        for eng in engines:
            eng.reset()


@pytest.fixture(params=sorted(ENGINE_FACTORIES))
def make_engine(request) -> Iterator[Callable[[], object]]:
    """A factory of fresh engines of one kind; every engine it made is reset after the test."""
    made = []
    if request.param == "remote":
        request.getfixturevalue("served_engines")  # started before the test body runs

    def factory():
        eng = ENGINE_FACTORIES[request.param](request)
        made.append(eng)
        return eng

    yield factory
    for eng in made:
        eng.reset()


@pytest.fixture(autouse=True)
def _private_cli_config(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's saved `fastscore connect` configuration."""
    monkeypatch.setenv("FASTSCORE_CONFIG", str(tmp_path_factory.mktemp("config") / "config.json"))
