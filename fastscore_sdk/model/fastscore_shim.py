"""The model-side ``fastscore`` API: what ``import fastscore`` and ``from fastscore.io import Slot`` give
inside model code.

Each :class:`~fastscore_sdk.model.runner.ModelRunner` builds its own pair of modules with
:func:`make_modules`, and serves them from the model's private ``__import__``; ``sys.modules`` is never
touched, so a ``fastscore`` package installed in the notebook's environment is not shadowed, and two
runners never share slot state.

``Slot(n)`` works for any in-use slot ``n >= 0``:

* ``for df in Slot(0)`` yields one pandas DataFrame per input batch, until the end of the input;
* ``Slot(0).read(format="pandas")`` returns the next batch, or None at the end of the input
  (``format="records"`` returns a list of records instead);
* ``Slot(1).write(x)`` writes a dict (one record), a DataFrame, Series or ndarray (one record per row,
  followed by a ``set`` boundary when recordsets are on for the slot), or a scalar.

``fastscore.cells`` and ``fastscore.pools`` (shared state and snapshots) are not supported yet and
raise :class:`~fastscore_sdk.errors.NotSupportedError`.

Examples
--------
>>> from fastscore_sdk.model import Model
>>> m = Model("double_it", '''
... # fastscore.action: unused
... from fastscore.io import Slot
... for df in Slot(0):
...     Slot(1).write(df.assign(a=df.a * 2))
... ''')
>>> import pandas as pd
>>> m.score(pd.DataFrame({"a": [1, 2]}))
[{'a': 2}, {'a': 4}]
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, NotSupportedError

if TYPE_CHECKING:
    from .runner import ModelRunner

__all__ = ["SlotBase", "make_modules"]

_FORMATS = ("pandas", "pandas.standard", "records")


class SlotBase:
    """A model's view of one engine slot (``fastscore.io.Slot``).

    Each runner makes a subclass bound to itself, so ``Slot`` needs no global state.

    Parameters
    ----------
    n
        The slot number: even slots are inputs, odd slots outputs.
    """

    _runner: ModelRunner | None = None

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Slot number must be an int >= 0, not {n!r}")
        self.n = n

    def __repr__(self) -> str:
        kind = "input" if self.n % 2 == 0 else "output"
        return f"Slot({self.n})  # {kind}"

    def _bound(self) -> ModelRunner:
        runner = type(self)._runner
        if runner is None:
            raise ModelError(
                "fastscore.io.Slot is only usable inside model code run by fastscore_sdk",
                hint="score the model with Model.score(...) or run it in an Engine",
            )
        return runner

    def __iter__(self) -> Iterator[Any]:
        """Yield one batch (a DataFrame) per call until the end of the input."""
        while True:
            batch = self.read()
            if batch is None:
                return
            yield batch

    def read(self, format: str = "pandas") -> Any:
        """The next input batch, or None at the end of the input.

        Parameters
        ----------
        format
            ``"pandas"`` (a DataFrame; ``"pandas.standard"`` is accepted as a synonym) or
            ``"records"`` (a list of records).
        """
        if format not in _FORMATS:
            raise ValueError(f"Slot.read format must be one of {', '.join(_FORMATS)}, not {format!r}")
        return self._bound()._explicit_read(self.n, format)

    def write(self, obj: Any) -> None:
        """Write one output: a record, or a DataFrame/Series/ndarray of records."""
        self._bound()._explicit_write(self.n, obj)


def _not_supported(what: str) -> Any:
    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise NotSupportedError(
            f"fastscore.{what}() (shared state and snapshots) is not supported yet",
            hint="keep state in module globals; each model instance has its own",
        )

    unsupported.__name__ = what
    return unsupported


def make_modules(runner: ModelRunner) -> dict[str, types.ModuleType]:
    """Fresh ``fastscore`` and ``fastscore.io`` modules bound to ``runner``.

    Returns
    -------
    dict
        ``{"fastscore": module, "fastscore.io": module}``; never placed in ``sys.modules``.
    """
    pkg = types.ModuleType("fastscore", "FastScore model-side API (served by fastscore_sdk).")
    pkg.__path__ = []  # a package, so `import fastscore.io` is well-formed
    pkg.__package__ = "fastscore"
    io_mod = types.ModuleType("fastscore.io", "Slot API for explicit-style FastScore models.")
    io_mod.__package__ = "fastscore"
    slot_cls = type("Slot", (SlotBase,), {"_runner": runner, "__module__": "fastscore.io"})
    io_mod.Slot = slot_cls  # type: ignore[attr-defined]
    io_mod.__all__ = ["Slot"]  # type: ignore[attr-defined]
    pkg.io = io_mod  # type: ignore[attr-defined]
    pkg.cells = _not_supported("cells")  # type: ignore[attr-defined]
    pkg.pools = _not_supported("pools")  # type: ignore[attr-defined]
    return {"fastscore": pkg, "fastscore.io": io_mod}
