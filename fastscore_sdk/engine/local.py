"""The embedded engine: runs a model over streams in this process, in background threads.

Threads and hand-offs (DESIGN §3: batches, never single records, cross a thread boundary):

* each input slot's records are cut into batches by the slot's ``Batching`` (``Watermark`` records
  at most, ``NagleTime`` ms at most, a ``set`` control record always closes a batch, a ``pig``
  travels in order as a barrier);
* one jet thread calls the model (:class:`~fastscore_sdk.model.runner.ModelRunner`) batch by batch
  and writes its outputs to the output slots' writers. With one input slot the jet reads it itself;
  with several, one reader thread per slot feeds the jet through a bounded queue (backpressure for
  fast readers). Outputs are pushed to their transports whenever the jet has nothing waiting.

The state machine is the original's (reference §3.5): INIT until a model is loaded and every in-use
slot has a stream, then RUNNING (or PAUSED if a pause was asked for), FINISHING once every input
ended, FINISHED when the outputs are complete; ERROR when the model or a stream fails.
"""

from __future__ import annotations

import logging
import queue
import shutil
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..codec.base import Control
from ..errors import EngineError, FastScoreError, ModelError, NotSupportedError, Rejected
from ..stream import Stream, StreamReader, StreamWriter
from .base import FINAL_STATES, BaseEngine, EngineState

if TYPE_CHECKING:
    import pandas as pd

    from ..model import Model

__all__ = ["LocalEngine"]

log = logging.getLogger(__name__)

_POLL = 0.1  # seconds a thread waits before re-checking for a stop request
_QUEUE_BATCHES = 16  # batches in flight between readers and the jet


@dataclass
class _Slot:
    slot: int
    stream: Stream
    interpreted: dict[str, Any]
    reader: StreamReader | None = None
    writer: StreamWriter | None = None
    records: int = 0
    eof: bool = False
    thread: threading.Thread | None = None
    extra_rejected: list[Rejected] = field(default_factory=list)

    @property
    def is_input(self) -> bool:
        return self.slot % 2 == 0


class _EndOfSlot:
    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot


class _Mark:
    """Every record read from ``slot`` up to the transport position ``token`` is in a batch ahead."""

    __slots__ = ("slot", "token")

    def __init__(self, slot: int, token: Any) -> None:
        self.slot = slot
        self.token = token


class LocalEngine(BaseEngine):
    """The embedded local engine.

    Parameters
    ----------
    name
        The engine's name (``engine-1`` by default, as in a FastScore fleet).
    echo_console
        Also write what the model prints to this process's stdout (so it shows in the notebook
        cell); it is always collected in :attr:`console`.

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> m = fs.Model("plus1", "def action(x):\\n    yield x + 1\\n")
    >>> with fs.Engine() as eng:
    ...     state = eng.run(m, "inline:1,2,3", "discard:").wait()
    ...     int(eng.stats().loc[1, "records"])
    3
    """

    def __init__(
        self, name: str = "engine-1", *, echo_console: bool = True, isolation: str = "thread"
    ) -> None:
        if isolation != "thread":
            raise NotSupportedError(
                f'isolation={isolation!r} is not supported yet; the local engine runs models in this process ("thread")'
            )
        self.name = name
        self.echo_console = echo_console
        #: Lines the model printed (its ``print`` output), in order.
        self.console: list[str] = []
        self._lock = threading.RLock()
        self._out_lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = EngineState.INIT
        self._pause_requested = False
        self._model: Model | None = None
        self._slots: dict[int, _Slot] = {}
        self._last_error: FastScoreError | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(_QUEUE_BATCHES)
        self._jet: threading.Thread | None = None
        self._runner: Any = None
        self._files: Path | None = None
        self._seqno: dict[int, int] = {}
        self._marks: dict[int, Any] = {}

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def last_error(self) -> ModelError | None:
        return self._last_error  # type: ignore[return-value]

    @property
    def model(self) -> Model | None:
        """The loaded model, or None."""
        return self._model

    def _set_state(self, state: EngineState) -> None:
        with self._changed:
            if self._state in FINAL_STATES and state not in (EngineState.INIT,):
                return  # a finished or failed run stays so until reset
            log.debug("engine %s: %s -> %s", self.name, self._state, state)
            self._state = state
            self._changed.notify_all()

    # -- loading -------------------------------------------------------------------------------
    def load_model(self, model: Model | str, *, dry_run: bool = False) -> dict[str, Any]:
        """Load a :class:`~fastscore_sdk.model.Model` (or a path to a model file).

        Returns its slot table. Raises :class:`EngineError` when a model is already running, and
        :class:`ModelError` when its smart comments or imports are wrong.
        """
        from ..model import Model

        if isinstance(model, (str, Path)):
            model = Model.load(model)
        if not isinstance(model, Model):
            raise TypeError(f"load_model needs a Model or a model file path, not {type(model).__name__}")
        model.check_imports()
        info = {"name": model.name, "slots": [s.as_dict() for s in model.slots]}
        if dry_run:
            return info
        with self._lock:
            if self._state not in (EngineState.INIT,):
                raise EngineError(
                    "a model is already running; reset the engine before loading another", state=self._state
                )
            unexpected = sorted(set(self._slots) - {s.slot for s in model.slots})
            if unexpected:
                raise EngineError(
                    f"unexpected slot {unexpected[0]}: model {model.name!r} uses slots "
                    f"{sorted(s.slot for s in model.slots)}; detach it or add a smart comment using it"
                )
            self._model = model
        self._maybe_start()
        return info

    def attach_stream(self, stream: Stream | str, slot: int, *, dry_run: bool = False) -> dict[str, Any]:
        """Attach ``stream`` (a Stream, a library name or a literal) to ``slot``.

        Returns the interpreted descriptor. Even slots are inputs, odd slots outputs; a slot the
        loaded model does not use is refused ("unexpected slot").
        """
        if not isinstance(stream, Stream):
            stream = Stream(stream)
        if not isinstance(slot, int) or slot < 0:
            raise EngineError(f"slot must be a whole number >= 0, not {slot!r}")
        interpreted = stream.verify(slot)
        if dry_run:
            return interpreted
        with self._lock:
            if self._state not in (EngineState.INIT,):
                raise EngineError(
                    "streams can only be attached before the run starts; reset first", state=self._state
                )
            if self._model is not None and slot not in {s.slot for s in self._model.slots}:
                raise EngineError(
                    f"unexpected slot {slot}: model {self._model.name!r} uses slots "
                    f"{sorted(s.slot for s in self._model.slots)}"
                )
            self._slots[slot] = _Slot(slot, stream, interpreted)
        self._maybe_start()
        return interpreted

    def detach_stream(self, slot: int) -> None:
        with self._lock:
            if self._state not in (EngineState.INIT, *FINAL_STATES):
                raise EngineError("a stream cannot be detached while the engine runs", state=self._state)
            if slot not in self._slots:
                raise EngineError(f"no stream is attached to slot {slot}")
            del self._slots[slot]

    # -- run -----------------------------------------------------------------------------------
    def _maybe_start(self) -> None:
        with self._lock:
            model = self._model
            if model is None or self._state is not EngineState.INIT:
                return
            if any(s.slot not in self._slots for s in model.slots):
                return
            self._warn_never_ending()
            self._stop.clear()
            self._seqno = {}
            self._marks = {}
            self._queue = queue.Queue(_QUEUE_BATCHES)
            self._last_error = None
            self._set_state(EngineState.PAUSED if self._pause_requested else EngineState.RUNNING)
            self._jet = threading.Thread(target=self._jet_main, name=f"{self.name}-jet", daemon=True)
            self._jet.start()

    def _warn_never_ending(self) -> None:
        looping = [s for s in self._slots.values() if s.is_input and s.interpreted.get("loop")]
        if looping:
            warnings.warn(
                f'input slot {looping[0].slot} loops ("Loop": true), so this run will not end on its own; '
                'call stop() when you have enough, or set "Loop": false',
                stacklevel=4,
            )

    def _jet_main(self) -> None:
        from ..model.runner import ModelRunner

        model = self._model
        inputs = [s for s in self._slots.values() if s.is_input]
        runner = None
        try:
            # Streams check records against their schema (or the model's, for "$inherit"), so the
            # runner does not check them a second time.
            for s in self._slots.values():
                if not s.is_input:
                    s.writer = s.stream.open_writer(slot=s.slot, inherit=model.schema(s.slot))
            self._runner = runner = ModelRunner(
                model,
                emit=self._emit,
                console=self._console_line,
                check_inputs=False,
                check_outputs=False,
                plain_outputs=False,
            )
            runner.start()
            for s in inputs:
                s.reader = s.stream.open_reader(slot=s.slot, inherit=model.schema(s.slot))
            if len(inputs) == 1:
                # One input: the jet reads it itself. A second thread would only take turns with
                # this one for the interpreter, at a cost per hand-over.
                self._read_slot(inputs[0], lambda item: self._handle(runner, item))
            else:
                for s in inputs:
                    s.thread = threading.Thread(
                        target=self._read_slot,
                        args=(s, self._put),
                        name=f"{self.name}-slot{s.slot}",
                        daemon=True,
                    )
                    s.thread.start()
                self._process(runner, len(inputs))
            if self._last_error is None:
                self._set_state(EngineState.FINISHING)
                runner.finish()
        except FastScoreError as exc:
            self._record_error(exc)
        except Exception as exc:  # a bug or an unexpected failure must still end the run visibly
            log.exception("engine %s failed", self.name)
            self._record_error(EngineError(f"the engine failed: {exc!r}\n{traceback.format_exc()}"))
        finally:
            self._stop.set()
            for s in inputs:
                if s.thread is not None:
                    s.thread.join()
            # Outputs keep what the model produced, also after a failure.
            self._close_outputs()
            if runner is not None:
                runner.close()
            self._set_state(EngineState.ERROR if self._last_error is not None else EngineState.FINISHED)

    def _process(self, runner: Any, open_inputs: int) -> None:
        """Jet loop for several inputs: take batches from the reader threads' queue."""
        while open_inputs:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if type(item) is _EndOfSlot:
                open_inputs -= 1
            self._handle(runner, item)

    def _handle(self, runner: Any, item: Any) -> None:
        """Run one batch (or an end of input) through the model and out to the output streams."""
        while self._state is EngineState.PAUSED and not self._stop.is_set():
            with self._changed:
                self._changed.wait(_POLL)
        if type(item) is _EndOfSlot:
            self._slots[item.slot].eof = True
            return
        if type(item) is _Mark:
            # Committed once the outputs of the batches before it are pushed (at-least-once).
            self._marks[item.slot] = item.token
            self._flush_outputs()
            return
        slot, batch, control = item
        if batch:
            start = self._seqno.get(slot, 0)
            self._seqno[slot] = start + len(batch)
            runner.process(slot, batch, seqno=start)
        if control is not None and control.kind == "pig":
            self._set_state(EngineState.PIGGING)
            # An explicit model writes from its own thread: let it catch up so the pig stays behind
            # every output of the records before it.
            runner.wait_idle()
            with self._out_lock:
                for s in self._slots.values():
                    if s.writer is not None:
                        s.writer.write(control)
        self._flush_outputs()
        if self._state is EngineState.PIGGING:
            self._set_state(EngineState.RUNNING)

    def _read_slot(self, s: _Slot, deliver: Callable[[Any], None]) -> None:
        """Read one input slot and cut its records into batches by the slot's Batching.

        Each batch goes to ``deliver``: the queue, from a reader thread; or straight to the model
        when the jet reads its only input itself.
        """
        reader: StreamReader = s.reader  # type: ignore[assignment]  # opened before this thread starts
        batching = s.interpreted.get("batching") or {"watermark": 1, "nagle_time": None}
        watermark = batching.get("watermark") or None
        nagle = batching.get("nagle_time")
        nagle_s = None if nagle is None else nagle / 1000.0
        pending: list[Any] = []
        first_at = 0.0
        try:
            while not self._stop.is_set():
                wait = _POLL
                if pending and nagle_s is not None:
                    wait = max(0.0, min(_POLL, first_at + nagle_s - time.monotonic()))
                recs = reader.read_batch(timeout=wait)
                if recs is None:
                    break
                if recs:
                    if not pending:
                        first_at = time.monotonic()
                    controls = (
                        [i for i, r in enumerate(recs) if type(r) is Control] if reader.has_controls else ()
                    )
                    start = 0
                    for i in controls:
                        pending.extend(recs[start:i])
                        self._put_batches(s.slot, pending, watermark, recs[i], deliver)
                        pending = []
                        start = i + 1
                    pending.extend(recs[start:])
                    if watermark is not None and len(pending) >= watermark:
                        # Full batches go now; a remainder waits for more records or for NagleTime.
                        cut = len(pending) - len(pending) % watermark
                        self._put_batches(s.slot, pending[:cut], watermark, None, deliver)
                        pending = pending[cut:]
                        first_at = time.monotonic()
                if pending and nagle_s is not None and time.monotonic() - first_at >= nagle_s:
                    self._put_batches(s.slot, pending, watermark, None, deliver)
                    pending = []
                if recs and not pending:
                    token = reader.position()
                    if token is not None:
                        deliver(_Mark(s.slot, token))
            if pending:
                self._put_batches(s.slot, pending, watermark, None, deliver)
                token = reader.position()
                if token is not None:
                    deliver(_Mark(s.slot, token))
        except FastScoreError as exc:
            self._record_error(exc)
        except Exception as exc:  # surface anything unexpected as an engine failure, not a silent hang
            log.exception("engine %s: reading slot %d failed", self.name, s.slot)
            self._record_error(EngineError(f"reading slot {s.slot} failed: {exc!r}"))
        finally:
            reader.close()
            deliver(_EndOfSlot(s.slot))

    def _put_batches(
        self,
        slot: int,
        records: list[Any],
        watermark: int | None,
        control: Control | None,
        deliver: Callable[[Any], None],
    ) -> None:
        s = self._slots[slot]
        s.records += len(records)
        if watermark is None or len(records) <= watermark:
            deliver((slot, records, control))
            return
        last = len(records) - 1
        for i in range(0, len(records), watermark):
            deliver((slot, records[i : i + watermark], control if i + watermark > last else None))

    def _put(self, item: Any) -> None:
        # Blocks while the jet is behind (backpressure), but never past a stop request.
        while True:
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                if self._stop.is_set():
                    return

    def _emit(self, slot: int, items: list[Any]) -> None:
        # Called from the jet, or from an explicit model's own thread: writers are guarded.
        s = self._slots.get(slot)
        if s is None or s.writer is None:
            raise EngineError(f"the model wrote to slot {slot}, which has no output stream attached")
        with self._out_lock:
            s.writer.write_many(items)
        s.records += len(items)
        if Control in set(map(type, items)):
            s.records -= sum(type(x) is Control for x in items)

    def _flush_outputs(self) -> None:
        # Push to the transports only when no batch is waiting: under load, outputs reach them in
        # large writes; when input pauses, what was produced goes out at once.
        push = self._queue.empty()
        with self._out_lock:
            for s in self._slots.values():
                if s.writer is not None:
                    s.writer.flush(push=push)
        if push and self._marks:
            marks, self._marks = self._marks, {}
            for slot, token in marks.items():
                reader = self._slots[slot].reader
                if reader is not None:
                    reader.commit(token)

    def _close_outputs(self) -> None:
        with self._out_lock:
            for s in self._slots.values():
                if s.writer is not None:
                    try:
                        s.writer.close()
                    except FastScoreError as exc:
                        self._record_error(exc)
        self._linger()

    def _linger(self) -> None:
        # LingerTime: an output whose records have not been collected yet (a REST output nobody has
        # read) stays open up to LingerTime ms before the engine calls the run finished.
        deadline = None
        for s in self._slots.values():
            sink = s.writer.sink if s.writer is not None else None
            pending = getattr(sink, "pending", None)
            linger = s.interpreted.get("linger_time")
            if pending is None or not linger:
                continue
            deadline = time.monotonic() + linger / 1000.0
            while pending() and time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(0.01)

    def _record_error(self, exc: FastScoreError) -> None:
        # The first error wins; the jet thread then stops the run and closes the outputs.
        with self._lock:
            if self._last_error is None:
                self._last_error = exc
                log.error("engine %s: %s", self.name, exc)
        self._stop.set()

    def _console_line(self, text: str) -> None:
        self.console.append(text)
        if self.echo_console:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")

    # -- control -------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, progress: bool = False) -> EngineState:
        """Block until FINISHED or ERROR (or ``timeout`` seconds); never raises for a model error.

        With ``progress=True`` a progress bar (tqdm.auto: a widget in a notebook, text elsewhere)
        counts records read. Ctrl-C stops waiting, not the engine.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = self._progress_bar() if progress else None
        try:
            with self._changed:
                while self._state not in FINAL_STATES and (
                    self._state is not EngineState.INIT or self._jet is not None
                ):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._changed.wait(min(left, 0.2) if left is not None else 0.2)
                    if bar is not None:
                        bar.n = sum(s.records for s in self._slots.values() if s.is_input)
                        bar.refresh()
        except KeyboardInterrupt:
            pass
        finally:
            if bar is not None:
                bar.n = sum(s.records for s in self._slots.values() if s.is_input)
                bar.set_postfix_str(str(self._state))
                bar.close()
        return self._state

    def _progress_bar(self) -> Any:
        from tqdm.auto import tqdm

        return tqdm(desc=f"{self.name}", unit=" records", leave=True)

    def pause(self) -> None:
        """Pause processing (RUNNING -> PAUSED); asked in INIT, it takes effect when the run starts."""
        with self._lock:
            if self._state in (EngineState.FINISHING, *FINAL_STATES):
                raise EngineError("cannot pause now", state=self._state)
            if self._state is EngineState.INIT:
                self._pause_requested = True
                return
            self._set_state(EngineState.PAUSED)

    def unpause(self) -> None:
        with self._lock:
            self._pause_requested = False
            if self._state is EngineState.PAUSED:
                self._set_state(EngineState.RUNNING)

    def stop(self) -> None:
        """End the run now: inputs stop, the model finishes, outputs are flushed and completed."""
        jet = self._jet
        if jet is None or self._state in FINAL_STATES:
            return
        self.unpause()
        self._stop.set()
        jet.join()

    def reset(self) -> None:
        """Stop any run, unload the model and detach every stream (state INIT)."""
        jet = self._jet
        if jet is not None and jet.is_alive():
            self._stop.set()
            self.unpause()
            jet.join()
        for s in self._slots.values():
            if s.thread is not None:
                s.thread.join(timeout=5)
        with self._lock:
            self._jet = None
            self._runner = None
            self._model = None
            self._slots.clear()
            self._pause_requested = False
            self._last_error = None
            self._set_state(EngineState.INIT)
        if self._files is not None:
            shutil.rmtree(self._files, ignore_errors=True)
            self._files = None

    # -- inspection ----------------------------------------------------------------------------
    def inspect(self) -> dict[str, Any]:
        from ..descriptor import redact

        model = self._model
        return {
            "name": self.name,
            "state": str(self._state),
            "model": None
            if model is None
            else {"name": model.name, "slots": [s.as_dict() for s in model.slots]},
            "streams": {
                s.slot: {
                    "name": s.stream.name,
                    "transport": s.interpreted["transport"]["type"],
                    "descriptor": redact(s.stream.desc),
                    "eof": s.eof,
                    "records": s.records,
                }
                for s in sorted(self._slots.values(), key=lambda s: s.slot)
            },
            "last_error": None if self._last_error is None else str(self._last_error),
        }

    def stats(self) -> pd.DataFrame:
        """Per-slot counters as a DataFrame indexed by slot.

        Columns: ``records`` (records read from an input / written to an output, control records
        excluded), ``bytes``, ``rejected_by_schema``, ``rejected_by_encoding``.
        """
        import pandas as pd

        rows = []
        for s in sorted(self._slots.values(), key=lambda s: s.slot):
            rejected = self.rejected(s.slot)
            io = s.reader if s.is_input else s.writer
            nbytes = 0 if io is None else (io.bytes_read if s.is_input else io.bytes_written)
            rows.append(
                {
                    "slot": s.slot,
                    "stream": s.stream.name,
                    "records": s.records,
                    "bytes": nbytes,
                    "rejected_by_schema": sum(r.kind == "schema" for r in rejected),
                    "rejected_by_encoding": sum(r.kind == "encoding" for r in rejected),
                }
            )
        columns = ["slot", "stream", "records", "bytes", "rejected_by_schema", "rejected_by_encoding"]
        return pd.DataFrame(rows, columns=columns).set_index("slot")

    def rejected(self, slot: int) -> list[Rejected]:
        s = self._slots.get(slot)
        if s is None:
            raise EngineError(f"no stream is attached to slot {slot}")
        io = s.reader if s.is_input else s.writer
        found = [] if io is None else list(io.rejected)
        return [r._replace(slot=slot) for r in found + s.extra_rejected]

    # -- files ---------------------------------------------------------------------------------
    def put(self, path: str | Path, name: str | None = None) -> Path:
        """Copy a local file into the engine's file area and return where it is now.

        The original's ``fastscore engine put`` copied data into the engine container; here the
        engine's file area is a private folder that lives until ``reset``.
        """
        src = Path(path)
        if not src.is_file():
            raise EngineError(f"cannot put {str(src)!r}: no such file")
        if self._files is None:
            self._files = Path(tempfile.mkdtemp(prefix=f"fastscore-{self.name}-"))
        dst = self._files / (name or src.name)
        if dst.resolve().parent != self._files.resolve():
            raise EngineError(f"cannot put to {name!r}: the name must be a plain file name")
        shutil.copyfile(src, dst)
        return dst

    def __repr__(self) -> str:
        model = self._model.name if self._model is not None else None
        return f"<LocalEngine {self.name!r} state={self._state} model={model!r} slots={sorted(self._slots)}>"


# The name users see: ``fs.Engine()`` is the local engine.
Engine = LocalEngine
