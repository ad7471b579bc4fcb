"""fastscore_sdk: FastScore streams, schemas, models and engines, in Jupyter and offline.

The public API is what this module exports; everything else is internal.

Examples
--------
>>> import fastscore_sdk as fs
>>> s = fs.Stream("inline:1,2,3")
>>> s.sample().to_pandas()["value"].tolist()
[1, 2, 3]
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    DescriptorError,
    EngineError,
    FastScoreDeprecationWarning,
    FastScoreError,
    FastScoreTimeoutError,
    MissingDependencyError,
    ModelError,
    NotSupportedError,
    RecordError,
    Rejected,
    SchemaError,
    TransportError,
)

# A library logs, the application decides where logs go: without this, Python's last-resort handler
# would print the SDK's warnings and errors on stderr.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Heavier parts are imported on first use so `import fastscore_sdk` stays cheap.
_LAZY = {
    "Stream": ".stream",
    "Sample": ".stream",
    "Schema": ".schema",
    "Library": ".library",
    "Model": ".model",
    "Engine": ".engine",
    "EngineState": ".engine",
    "connect": ".engine.remote",
}

__all__ = [
    "DescriptorError",
    "Engine",
    "EngineError",
    "EngineState",
    "FastScoreDeprecationWarning",
    "FastScoreError",
    "FastScoreTimeoutError",
    "Library",
    "MissingDependencyError",
    "Model",
    "ModelError",
    "NotSupportedError",
    "RecordError",
    "Rejected",
    "Sample",
    "Schema",
    "SchemaError",
    "Stream",
    "TransportError",
    "__version__",
    "connect",
]

if TYPE_CHECKING:
    from .library import Library
    from .schema import Schema
    from .stream import Sample, Stream


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastscore_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext fastscore_sdk``: register the magics (nothing is registered at import)."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext fastscore_sdk``: remove the magics, stopping the session engine."""
    from .notebook.magics import unload_ipython_extension as unload

    unload(ipython)
