"""Engines: the embedded local engine, its REST server, and the remote client of that API."""

from .base import EngineState
from .local import Engine, LocalEngine

__all__ = ["Engine", "EngineState", "LocalEngine", "RemoteEngine", "connect"]


def __getattr__(name: str):
    # The remote client pulls in requests; import it only when asked for.
    if name in ("RemoteEngine", "connect"):
        from . import remote

        return getattr(remote, name)
    raise AttributeError(f"module 'fastscore_sdk.engine' has no attribute {name!r}")
