"""What every engine offers, whether it runs in this process or behind the FastScore REST API."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..errors import ModelError, Rejected
    from ..model import Model
    from ..stream import Stream

__all__ = ["FINAL_STATES", "BaseEngine", "EngineState"]


class EngineState(str, Enum):
    """The engine's state (reference §3.5); compares equal to its name: ``state == "RUNNING"``."""

    INIT = "INIT"
    """The pipeline is incomplete: no model, or an in-use slot has no stream."""
    RUNNING = "RUNNING"
    """Model loaded and every in-use slot attached: records flow."""
    PAUSED = "PAUSED"
    """Nothing is processed until ``unpause``."""
    PIGGING = "PIGGING"
    """A pig control record is travelling through the pipeline."""
    FINISHING = "FINISHING"
    """Every input reached its end; the model is finishing its work."""
    FINISHED = "FINISHED"
    """Inputs and outputs are at their end. Only ``reset`` leaves this state."""
    ERROR = "ERROR"
    """The model or a stream failed; see ``last_error``. Only ``reset`` leaves this state."""

    def __str__(self) -> str:
        return self.value


FINAL_STATES = frozenset({EngineState.FINISHED, EngineState.ERROR})


class BaseEngine(ABC):
    """The Engine interface shared by the local engine and the remote client (DESIGN §4)."""

    name: str

    @property
    @abstractmethod
    def state(self) -> EngineState:
        """The current :class:`EngineState`."""

    @abstractmethod
    def load_model(self, model: Model | str, *, dry_run: bool = False) -> dict[str, Any]:
        """Load a model; with ``dry_run`` only check it. Returns the model's slot table."""

    @abstractmethod
    def attach_stream(self, stream: Stream | str, slot: int, *, dry_run: bool = False) -> dict[str, Any]:
        """Attach a stream to a slot (even: input, odd: output); returns its interpreted descriptor."""

    @abstractmethod
    def detach_stream(self, slot: int) -> None:
        """Detach the stream on ``slot`` (not while the engine is running)."""

    def run(self, model: Model | str, *streams: Stream | str) -> BaseEngine:
        """Load ``model`` and attach ``streams`` to slots 0, 1, 2, ... in order; returns at once.

        Examples
        --------
        >>> import fastscore_sdk as fs
        >>> m = fs.Model("double", "def action(x):\\n    yield x * 2\\n")
        >>> eng = fs.Engine().run(m, "inline:1,2,3", "discard:")
        >>> eng.wait()
        <EngineState.FINISHED: 'FINISHED'>
        """
        self.load_model(model)
        for slot, stream in enumerate(streams):
            self.attach_stream(stream, slot)
        return self

    @abstractmethod
    def wait(self, timeout: float | None = None, *, progress: bool = False) -> EngineState:
        """Block until the engine is FINISHED or in ERROR (or ``timeout`` passes); returns the state."""

    @abstractmethod
    def pause(self) -> None: ...

    @abstractmethod
    def unpause(self) -> None: ...

    @abstractmethod
    def reset(self) -> None:
        """Stop any run, unload the model and detach every stream: back to INIT."""

    @abstractmethod
    def stop(self) -> None:
        """End the run now, flushing what the model produced so far."""

    @abstractmethod
    def inspect(self) -> dict[str, Any]:
        """A JSON-able summary: state, model, slots with their streams and counts, last error."""

    @abstractmethod
    def stats(self) -> pd.DataFrame:
        """Per-slot counters: records, bytes, rejected_by_schema, rejected_by_encoding."""

    @abstractmethod
    def rejected(self, slot: int) -> list[Rejected]:
        """Records rejected on ``slot`` (index, reason, raw, kind)."""

    @property
    @abstractmethod
    def last_error(self) -> ModelError | None:
        """The error that put the engine in ERROR, with slot, record index, input and traceback."""

    # REST streams. Not abstract: an engine without REST slots says so when called.
    def input(self, data: bytes | str | None, slot: int = 0) -> None:
        """Send one REST body to input ``slot``; ``None`` (or the encoding's end record) ends the input."""
        raise self._no_rest("input")

    def output(self, slot: int = 1, timeout: float | None = 0.0) -> bytes | None:
        """The next output of REST ``slot``: bytes, None when nothing is ready; EOFError at the end."""
        raise self._no_rest("output")

    def roundtrip(
        self, data: bytes | str, in_slot: int = 0, out_slot: int = 1, timeout: float | None = 5.0
    ) -> bytes:
        """Send one input on a REST slot and return the output it produced."""
        raise self._no_rest("roundtrip")

    def score(
        self,
        records: Any,
        *,
        in_slot: int = 0,
        out_slot: int = 1,
        timeout: float | None = 30.0,
        errors: str = "raise",
    ) -> Any:
        """Encode ``records``, send them through the REST slots, and return the decoded outputs."""
        raise self._no_rest("score")

    def _no_rest(self, what: str) -> Exception:
        from ..errors import NotSupportedError

        return NotSupportedError(f"{type(self).__name__} does not support {what}() yet")

    def _repr_html_(self) -> str:
        from ..notebook.display import engine_html

        return engine_html(self)

    def scale(self, n: int) -> None:
        """Run ``n`` instances of the model."""
        from ..errors import NotSupportedError

        raise NotSupportedError("scale(n) is not supported by this engine yet; run one instance per engine")

    def __enter__(self) -> BaseEngine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.reset()
