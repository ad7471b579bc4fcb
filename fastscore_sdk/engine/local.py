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

import itertools
import logging
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..codec.base import Control
from ..errors import (
    EngineError,
    FastScoreError,
    FastScoreTimeoutError,
    ModelError,
    NotSupportedError,
    RecordError,
    Rejected,
    SchemaError,
)
from ..stream import Stream, StreamReader, StreamWriter
from .base import FINAL_STATES, BaseEngine, EngineState

if TYPE_CHECKING:
    import pandas as pd

    from ..model import Model

__all__ = ["LocalEngine"]

log = logging.getLogger(__name__)

_POLL = 0.1  # seconds a thread waits before re-checking for a stop request
_QUEUE_BATCHES = 16  # batches in flight between readers and the jet
_END_WAIT = 30.0  # seconds a REST call that saw the outputs close waits for the run to settle
_START_WAIT = 60.0  # seconds REST calls wait for a starting run to open its slots (a model may load slowly)
# Pig ids of round trips: random start, so two engines (or runs) never expect each other's markers.
_PIG_IDS = itertools.count(random.randrange(1 << 40, 1 << 52))


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


class _NotReady(Exception):
    """The run has started but has not opened the slot yet (a non-waiting REST call)."""


class _Trip:
    """One round trip: input and a pig sent, waiting for the pig to come back on the output."""

    __slots__ = (
        "claim",
        "engine",
        "event",
        "in_slot",
        "items",
        "on_done",
        "out_slot",
        "rejected_in",
        "rejected_out",
        "roundtrip",
        "sink",
    )

    def __init__(
        self,
        engine: LocalEngine,
        in_slot: int,
        out_slot: int,
        sink: Any,
        roundtrip: bool,
        on_done: Callable[[], None] | None,
    ) -> None:
        self.engine = engine
        self.in_slot = in_slot
        self.out_slot = out_slot
        self.sink = sink
        self.roundtrip = roundtrip
        self.on_done = on_done
        self.event = threading.Event()
        self.items: list[bytes] | None = None
        self.claim: Any = None
        self.rejected_in = 0
        self.rejected_out = 0

    def arrived(self, items: list[bytes] | None) -> None:
        # Called from the thread that wrote the pig (or closed the output).
        self.items = items
        self.event.set()
        if self.on_done is not None:
            self.on_done()

    def timed_out(self, timeout: float | None) -> FastScoreTimeoutError:
        self.sink.abandon(self.claim)
        state = self.engine.state
        hint = (
            "unpause the engine"
            if state is EngineState.PAUSED
            else "raise the timeout, or check eng.inspect()"
        )
        return FastScoreTimeoutError(
            f"no answer on slot {self.out_slot} within {timeout} s for the input sent to slot "
            f"{self.in_slot} (engine state: {state})",
            hint=hint,
        )


# Per open REST source/sink: how its encoding writes a control record, and its record separator.
_PIG_CODECS: weakref.WeakKeyDictionary[Any, tuple[Callable[[list[Any]], list[bytes]], bytes]] = (
    weakref.WeakKeyDictionary()
)


def _pig_codec(
    io: Any, s: _Slot, slot: int, direction: str
) -> tuple[Callable[[list[Any]], list[bytes]], bytes]:
    found = _PIG_CODECS.get(io)
    if found is None:
        from .. import codec

        sep = _separator(s, slot, direction)
        opened = s.reader if direction == "input" else s.writer
        schema = opened.schema if opened is not None and _needs_schema(s.interpreted) else None
        encoder = codec.encoder(None, s.interpreted.get("encoding"), schema, stream=s.stream.name, slot=slot)
        found = _PIG_CODECS[io] = (encoder.encode_messages, sep)
    return found


def _separator(s: _Slot, slot: int, direction: str) -> bytes:
    """The envelope's record separator on a REST slot (b"" without an envelope); refuses envelopes a
    pig cannot travel through."""
    envelope = s.interpreted.get("envelope")
    if envelope is None:
        return b""
    kind = str(envelope.get("type", "")).lower()
    if kind in ("delimited", "delimited-csv"):
        sep = envelope.get("separator") or "\n"
        return sep.encode("utf-8") if isinstance(sep, str) else bytes(sep)
    raise NotSupportedError(
        f"slot {slot}: a round trip cannot tell where its answer ends on a {direction} stream with "
        f"a {kind} envelope",
        hint='use a "delimited" envelope (or none), or eng.input()/eng.output()',
    )


def _needs_schema(interpreted: dict[str, Any]) -> bool:
    encoding = interpreted.get("encoding")
    name = encoding.get("type") if isinstance(encoding, dict) else encoding
    return str(name or "").lower() == "avro-binary"


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_dict")


def _rejection(r: Rejected, slot: int, direction: str) -> FastScoreError:
    if r.kind == "schema":
        return SchemaError(
            f"{direction} record rejected by schema: {r.reason}", record_index=r.index, slot=slot
        )
    raw = r.raw if isinstance(r.raw, bytes) else None
    return RecordError(
        f"{direction} record rejected by its encoding: {r.reason}", record_index=r.index, slot=slot, raw=raw
    )


def _check_pairing(model: Model, slot: int, interpreted: dict[str, Any]) -> None:
    """Refuse a model slot and a stream that cannot work together (the seed's ODBC rules)."""
    info = next((s for s in model.slots if s.slot == slot), None)
    if info is None:
        return
    if interpreted["transport"]["type"] == "odbc" and slot % 2 == 1 and info.recordsets:
        raise EngineError(
            f"slot {slot}: an ODBC output takes one row (a tuple) per record, but model {model.name!r} has "
            f"recordsets on for this slot",
            hint=f"remove '# fastscore.recordsets.{slot}: true' and yield a tuple per row",
        )


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
        self._threaded = False
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
            for attached in self._slots.values():
                _check_pairing(model, attached.slot, attached.interpreted)
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
            if self._model is not None:
                _check_pairing(self._model, slot, interpreted)
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

    def unload_model(self) -> None:
        """Unload the model (``DELETE /2/active/model``); only before a run starts (state INIT).

        Raises
        ------
        EngineError
            No model is loaded, or the engine is not in INIT (reset it instead).
        """
        with self._lock:
            if self._model is None:
                raise EngineError("no model is loaded")
            if self._state is not EngineState.INIT:
                raise EngineError(
                    "a model can only be unloaded before its run starts; reset the engine instead",
                    state=self._state,
                )
            self._model = None

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
            self._threaded = len(inputs) > 1
            if not self._threaded:
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
                self._flush_outputs(push=True)  # delivers the last outputs, then commits inputs
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
                if s.reader is not None:
                    s.reader.close()
            # After a failure the outputs are aborted, not completed: a file keeps what reached it,
            # an upload is cancelled so no partial object appears (DESIGN §6).
            self._close_outputs(abort=self._last_error is not None)
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
            if item.token is not None:
                self._marks[item.slot] = item.token
            self._flush_outputs(push=self._queue.empty())
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
        # Outputs reach the transports in large writes; they are pushed at the next mark (the end
        # of what one read returned) or, with several inputs, when no batch is waiting.
        self._flush_outputs(push=self._threaded and self._queue.empty())
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
                flushed = False
                if pending and nagle_s is not None and time.monotonic() - first_at >= nagle_s:
                    self._put_batches(s.slot, pending, watermark, None, deliver)
                    pending = []
                    flushed = True
                if recs or flushed:
                    # A point to push outputs; and when no record waits in `pending`, everything
                    # read so far is in a batch ahead, so its position can be committed after them.
                    deliver(_Mark(s.slot, None if pending else reader.position()))
            if pending:
                self._put_batches(s.slot, pending, watermark, None, deliver)
                deliver(_Mark(s.slot, reader.position()))
        except FastScoreError as exc:
            self._record_error(exc)
        except Exception as exc:  # surface anything unexpected as an engine failure, not a silent hang
            log.exception("engine %s: reading slot %d failed", self.name, s.slot)
            self._record_error(EngineError(f"reading slot {s.slot} failed: {exc!r}"))
        finally:
            # The reader is closed by the jet, after the last commit.
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

    def _flush_outputs(self, *, push: bool) -> None:
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

    def _close_outputs(self, *, abort: bool = False) -> None:
        with self._out_lock:
            for s in self._slots.values():
                if s.writer is None:
                    continue
                try:
                    if abort:
                        s.writer.flush(push=True)
                        s.writer.abort()
                    else:
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
            self.console.clear()
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

    # -- REST ------------------------------------------------------------------------------------
    #
    # input/output/roundtrip/score talk to the REST streams attached to the slots: the transport's
    # source and sink objects, reached through the slot's reader and writer once the run started.

    def input(self, data: bytes | str | None, slot: int = 0) -> None:
        """Send one REST body to input ``slot`` (what ``POST .../1/job/input/SLOT`` does).

        Parameters
        ----------
        data
            Encoded bytes, or text sent as UTF-8: one record for a simple REST stream, any part of
            the byte stream for a chunked one. ``None`` ends the input, as does the encoding's
            ``end`` control record (``{"$fastscore":"end"}`` for JSON); the outputs then drain.
        slot
            An even slot with a REST stream attached.

        Raises
        ------
        EngineError
            The slot is an output slot, has no REST stream, or the engine is not running.

        Examples
        --------
        >>> import fastscore_sdk as fs
        >>> m = fs.Model("times5", "def action(x):\\n    yield x * 5\\n")
        >>> eng = fs.Engine().run(m, "rest:", "rest:")
        >>> eng.input("20")
        >>> eng.output(1, timeout=5)
        b'100'
        >>> eng.input(None)
        >>> eng.wait(10)
        <EngineState.FINISHED: 'FINISHED'>
        >>> eng.output(1)
        Traceback (most recent call last):
        ...
        EOFError: the REST output of stream 'rest:' has ended
        """
        self._input(data, slot, wait=True)

    def _input(self, data: bytes | str | None, slot: int, *, wait: bool) -> None:
        source = self._rest_io(slot, "input", wait=wait)
        if data is None:
            source.end()
            return
        if source.ended:
            raise EngineError(
                f"the input on slot {slot} has ended (an end record or input(None) was sent); "
                "reset the engine and run again to send more",
                state=self._state,
            )
        source.push(data)

    def output(self, slot: int = 1, timeout: float | None = 0.0) -> bytes | None:
        """Collect the next output of REST ``slot`` (what ``GET .../1/job/output/SLOT`` does).

        Parameters
        ----------
        slot
            An odd slot with a REST stream attached.
        timeout
            Seconds to wait for output (0: do not wait; None: until output or the end).

        Returns
        -------
        bytes or None
            One message (simple mode) or every byte ready (chunked mode); None when nothing is
            ready yet (HTTP 202).

        Raises
        ------
        EOFError
            The run ended and every output was collected (HTTP 204).
        EngineError
            The slot is an input slot, has no REST stream, or the engine is not running.
        """
        return self._output(slot, timeout, wait=True)

    def _output(self, slot: int, timeout: float | None, *, wait: bool) -> bytes | None:
        sink = self._rest_io(slot, "output", wait=wait)
        try:
            item = sink.pop(0)
            if item is None:
                # An explicit model writes from its own thread, and the jet pushes outputs only
                # when it handles a batch: push what the model wrote since, before saying nothing
                # is ready.
                self._push_slot(slot)
                item = sink.pop(timeout)
        except EOFError:
            self._await_end(wait=wait)
            raise
        return item

    def _await_end(self, *, wait: bool) -> None:
        # The outputs close just before the run settles in FINISHED or ERROR: a caller told "end of
        # stream" (or "the model failed") must find the engine in its final state.
        if self._state in FINAL_STATES or self._jet is None:
            return
        if not wait:
            raise _NotReady(-1)
        self.wait(_END_WAIT)

    def _push_slot(self, slot: int) -> None:
        s = self._slots.get(slot)
        writer = s.writer if s is not None else None
        if writer is not None:
            with self._out_lock:
                writer.flush()

    def roundtrip(
        self, data: bytes | str, in_slot: int = 0, out_slot: int = 1, timeout: float | None = 5.0
    ) -> bytes:
        """Send one input and return the output it produced (``POST .../roundtrip/IN/OUT``).

        A ``pig`` control record follows the input through the engine; what ``out_slot`` received
        before the pig came back is the answer. Use a REST stream with ``"NagleTime": 0`` (the
        seed's ``rest-trip``); the pig closes the batch at once in any case.

        Parameters
        ----------
        data
            Encoded bytes or text: one record (simple REST), or framed records (chunked REST).
        in_slot, out_slot
            The REST input and output slots.
        timeout
            Seconds to wait for the answer (None: no limit).

        Returns
        -------
        bytes
            The output: one message; several messages joined by newlines (simple mode) or the
            framed bytes (chunked mode); empty when the model produced nothing.

        Raises
        ------
        FastScoreTimeoutError
            No answer within ``timeout`` seconds (the engine is paused, or the model is slow).
        RecordError, SchemaError
            The input (or the output) was rejected: malformed, or not matching the slot's schema.
        ModelError
            The model raised (the engine is then in ERROR).
        EngineError
            A slot is of the wrong direction, has no REST stream, or the run has ended.

        Examples
        --------
        >>> import fastscore_sdk as fs
        >>> m = fs.Model("times5", "def action(x):\\n    yield x * 5\\n")
        >>> trip = fs.Stream("rest-trip", {"Transport": "REST", "Encoding": "json",
        ...                                "Batching": {"NagleTime": 0, "Watermark": None}})
        >>> with fs.Engine() as eng:
        ...     eng.run(m, trip, trip).roundtrip("20")
        b'100'
        """
        trip = self._start_trip([data], in_slot, out_slot, roundtrip=True)
        if not trip.event.wait(timeout):
            raise trip.timed_out(timeout)
        return self._finish_trip(trip)

    def score(
        self,
        records: Any,
        *,
        in_slot: int = 0,
        out_slot: int = 1,
        timeout: float | None = 30.0,
        errors: str = "raise",
    ) -> Any:
        """Score records through the running engine's REST slots (the FSD ``Engine.score`` contract).

        The records are encoded with the input stream's encoding and sent as one batch followed by
        a ``pig``; the outputs written before the pig came back are decoded (control records
        dropped) and returned in order.

        Parameters
        ----------
        records
            A list of records, or a DataFrame (one record per row; a DataFrame comes back).
        in_slot, out_slot
            The REST input and output slots.
        timeout
            Seconds to wait for the batch to come back.
        errors
            ``"raise"``: a record the input stream rejected raises (SchemaError / RecordError);
            ``"reject"``: it is skipped and listed in ``eng.rejected(in_slot)``.

        Raises
        ------
        FastScoreTimeoutError, ModelError, EngineError
            As for :meth:`roundtrip`; a ModelError when the engine went to ERROR.

        Examples
        --------
        >>> import fastscore_sdk as fs
        >>> m = fs.Model("plus1", "def action(x):\\n    yield x + 1\\n")
        >>> chunked = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}
        >>> with fs.Engine() as eng:
        ...     eng.run(m, fs.Stream("in", chunked), fs.Stream("out", chunked)).score([1, 2, 3])
        [2, 3, 4]
        """
        from .. import codec

        if errors not in ("raise", "reject"):
            raise ValueError(f'errors must be "raise" or "reject", not {errors!r}')
        source = self._rest_io(in_slot, "input", wait=True)
        self._rest_io(out_slot, "output", wait=True)
        s_in, s_out = self._slots[in_slot], self._slots[out_slot]
        reader = s_in.reader
        frame = None
        if _is_frame(records):
            from ..model.runner import frame_records

            frame = records
            records = frame_records(frame, reader.schema)
        elif not isinstance(records, list):
            records = list(records)
        interp = s_in.interpreted
        enc = codec.encoder(
            interp.get("envelope"),
            interp.get("encoding"),
            reader.schema if _needs_schema(interp) else None,
            errors="raise",
            stream=s_in.stream.name,
            slot=in_slot,
        )
        if source.preserves_boundaries:
            items: list[bytes] = enc.encode_messages(records)
        else:
            items = [enc.encode(records)]
        trip = self._start_trip(items, in_slot, out_slot, roundtrip=errors == "raise")
        if not trip.event.wait(timeout):
            raise trip.timed_out(timeout)
        raw = self._trip_items(trip)
        out_interp = s_out.interpreted
        dec = codec.decoder(
            out_interp.get("envelope"),
            out_interp.get("encoding"),
            s_out.writer.schema if _needs_schema(out_interp) else None,
            errors="raise",
            stream=s_out.stream.name,
            slot=out_slot,
        )
        if s_out.writer.sink.preserves_boundaries:
            decoded = dec.feed_messages(raw)
        else:
            decoded = dec.feed(b"".join(raw))
        decoded.extend(dec.finish())
        out = [r for r in decoded if type(r) is not Control]
        if frame is not None:
            import pandas as pd

            return pd.DataFrame(out)
        return out

    def _rest_io(self, slot: int, direction: str, *, wait: bool) -> Any:
        """The REST source (input) or sink (output) of ``slot``, once the run has opened it."""
        if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
            raise EngineError(f"slot must be a whole number >= 0, not {slot!r}")
        if direction == "input" and slot % 2:
            raise EngineError(f"slot {slot} is an output slot; send input to an even slot such as 0")
        if direction == "output" and not slot % 2:
            raise EngineError(f"slot {slot} is an input slot; read output from an odd slot such as 1")
        s = self._slots.get(slot)
        if s is None:
            raise EngineError(
                f"no stream is attached to slot {slot}",
                hint=f"attach a REST stream first, e.g. eng.attach_stream('rest:', {slot})",
            )
        kind = s.interpreted["transport"]["type"]
        if kind != "rest":
            raise EngineError(
                f"slot {slot} has a {kind} stream ({s.stream.name!r}), not a REST stream",
                hint="REST input and output need a REST stream on the slot, e.g. 'rest:'",
            )
        deadline = time.monotonic() + _START_WAIT
        while True:
            io = s.reader if direction == "input" else s.writer
            if io is not None:
                return io.source if direction == "input" else io.sink
            state = self._state
            if state is EngineState.INIT or state in FINAL_STATES:
                failed = f": {self._last_error}" if self._last_error is not None else ""
                raise EngineError(
                    "the engine is not running"
                    if state is EngineState.INIT
                    else f"the run ended before slot {slot} was opened{failed}",
                    state=state,
                    hint="load a model and attach a stream to every slot it uses"
                    if state is EngineState.INIT
                    else "reset the engine and run again",
                )
            if not wait:
                raise _NotReady(slot)
            if time.monotonic() > deadline:
                raise FastScoreTimeoutError(
                    f"slot {slot} was not opened within {_START_WAIT:.0f} s of the run starting",
                    hint="the model may still be loading; try again, or check eng.inspect()",
                )
            time.sleep(0.005)

    def _start_trip(
        self,
        items: list[bytes | str],
        in_slot: int,
        out_slot: int,
        *,
        roundtrip: bool,
        wait: bool = True,
        on_done: Callable[[], None] | None = None,
    ) -> _Trip:
        """Send ``items`` then a pig on ``in_slot``; the returned trip completes when the pig is back."""
        source = self._rest_io(in_slot, "input", wait=wait)
        sink = self._rest_io(out_slot, "output", wait=wait)
        s_in, s_out = self._slots[in_slot], self._slots[out_slot]
        if source.ended:
            raise EngineError(
                f"the input on slot {in_slot} has ended; reset the engine and run again", state=self._state
            )
        in_encode, in_sep = _pig_codec(source, s_in, in_slot, "input")
        out_encode, out_sep = _pig_codec(sink, s_out, out_slot, "output")
        pig = [Control("pig", id=next(_PIG_IDS))]
        pig_in = in_encode(pig)[0]
        marker = out_encode(pig)[0]
        body = [i.encode("utf-8") if isinstance(i, str) else i for i in items]
        if not source.preserves_boundaries and in_sep:
            # A byte stream: the pig must start a frame of its own.
            if body and body[-1] and not body[-1].endswith(in_sep):
                body[-1] = body[-1] + in_sep
            pig_in += in_sep
        trip = _Trip(self, in_slot, out_slot, sink, roundtrip, on_done)
        trip.rejected_in = len(s_in.reader.rejected)
        trip.rejected_out = len(s_out.writer.rejected)
        trip.claim = sink.expect(marker, trip.arrived, separator=out_sep)
        try:
            # A big batch is read apart from its pig, so that it decodes without control records.
            big = len(body) > 8 or sum(map(len, body)) > 8192
            source.push_many([*body, pig_in], last_apart=big)
        except FastScoreError:
            sink.abandon(trip.claim)
            raise
        return trip

    def _trip_items(self, trip: _Trip) -> list[bytes]:
        """What came back for a completed trip; raises when the run failed or the input was rejected."""
        items = trip.items
        if items is None:
            self._await_end(wait=True)
            if self._last_error is not None:
                raise self._last_error
            raise EngineError(
                f"the output on slot {trip.out_slot} ended before the answer came back", state=self._state
            )
        if not items:
            # An explicit model that raised has stopped without the engine noticing yet: it will
            # on the next batch, but the caller should hear it now.
            thread_error = getattr(self._runner, "_thread_error", None)
            if thread_error is not None:
                raise thread_error
        if trip.roundtrip:
            s_in, s_out = self._slots.get(trip.in_slot), self._slots.get(trip.out_slot)
            rejected = [] if s_in is None or s_in.reader is None else s_in.reader.rejected[trip.rejected_in :]
            if rejected:
                raise _rejection(rejected[0], trip.in_slot, "input")
            rejected = (
                [] if s_out is None or s_out.writer is None else s_out.writer.rejected[trip.rejected_out :]
            )
            if rejected and not items:
                raise _rejection(rejected[0], trip.out_slot, "output")
        return items

    def _finish_trip(self, trip: _Trip) -> bytes:
        items = self._trip_items(trip)
        if len(items) == 1:
            return items[0]
        if trip.sink.preserves_boundaries:
            return b"\n".join(items)
        return b"".join(items)

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        tls: Any = None,
        auth: tuple[str, str] | None = None,
        allow_local_streams: bool = False,
        max_body: int = 16 * 2**20,
    ) -> Any:
        """Serve this engine over the FastScore REST API in a background thread.

        Parameters
        ----------
        host, port
            Where to listen: loopback by default; port 0 picks a free port.
        tls
            ``True`` (a self-signed certificate made now, for ``curl -k``), ``(certfile, keyfile)``,
            or an ``ssl.SSLContext``. None: plain HTTP.
        auth
            ``(user, password)`` turns on HTTP basic authentication.
        allow_local_streams
            Let requests attach or sample ``file`` and ``exec`` streams (they read the server's
            files and run commands on it); refused with 403 otherwise.
        max_body
            Largest request body in bytes (413 above it).

        Returns
        -------
        ServerHandle
            ``.url``, ``.port``, ``.stop()``; also a context manager.

        Examples
        --------
        >>> import fastscore_sdk as fs, requests
        >>> eng = fs.Engine()
        >>> with eng.serve(port=0) as srv:
        ...     requests.get(f"{srv.url}/api/1/service/engine-1/2/engine/state").json()
        {'state': 'init'}
        """
        from .server import serve

        return serve(
            self,
            host=host,
            port=port,
            tls=tls,
            auth=auth,
            allow_local_streams=allow_local_streams,
            max_body=max_body,
        )

    def __repr__(self) -> str:
        model = self._model.name if self._model is not None else None
        return f"<LocalEngine {self.name!r} state={self._state} model={model!r} slots={sorted(self._slots)}>"


# The name users see: ``fs.Engine()`` is the local engine.
Engine = LocalEngine
