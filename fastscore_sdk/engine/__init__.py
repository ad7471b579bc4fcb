"""Engines: the embedded local engine, and (later) its REST server and remote client."""

from .base import EngineState
from .local import Engine, LocalEngine

__all__ = ["Engine", "EngineState", "LocalEngine"]
