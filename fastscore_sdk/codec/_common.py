"""Machinery shared by the envelopes: the batch-then-frame decode loop, rejection bookkeeping, probes.

Every decoder here follows one pattern (DESIGN §3, hot path): decode a whole list of frames with the
encoding's :meth:`~fastscore_sdk.codec.base.Encoding.decode_batch` (one comprehension, no per-record
layers), and only when that raises go frame by frame to find, classify and reject the bad ones. Control
records and the legacy ``EndMarker`` are found by a probe over the raw bytes first, so a chunk without
them never pays for the per-frame checks.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import DescriptorError, RecordError, Rejected, SchemaError
from .base import END, Control, Decoder, Encoder, Encoding

logger = logging.getLogger("fastscore_sdk.codec")

__all__ = [
    "FrameDecoder",
    "FrameEncoder",
    "enc_hook",
    "make_probe",
    "option",
    "reason_of",
    "to_bytes",
]

#: Exceptions a codec raises for a bad record (as opposed to a bug, which must surface).
RECORD_ERRORS = (RecordError, SchemaError)


def make_probe(needles: Iterable[bytes | None]) -> Callable[[bytes], bool] | None:
    """A cheap test "may this buffer hold one of ``needles``?", or None when there are none.

    A multi-byte ``in`` over a 1 MiB chunk costs ~25 ns per record; a single byte is a ``memchr``
    (~2 ns per record). So the probe looks for one rare byte of each needle first (``$`` where there
    is one) and searches the needles themselves only when that byte occurs.

    Examples
    --------
    >>> probe = make_probe([b"$fastscore", b"$end-of-stream"])
    >>> probe(b'{"x": 1}'), probe(b'{"$fastscore": "end"}')
    (False, True)
    """
    found = tuple(dict.fromkeys(n for n in needles if n))
    if not found:
        return None
    sentinels = tuple(dict.fromkeys(b"$" if b"$" in n else n[:1] for n in found))

    if len(found) == 1 and len(sentinels) == 1:
        (needle,), (sentinel,) = found, sentinels

        def probe1(buf: bytes) -> bool:
            return sentinel in buf and needle in buf

        return probe1

    def probe(buf: bytes) -> bool:
        for s in sentinels:
            if s in buf:
                return any(n in buf for n in found)
        return False

    return probe


def option(options: dict[str, Any], name: str, default: Any = None) -> Any:
    """An interpreted option by its snake_case name, accepting the descriptor's CamelCase too."""
    if name in options:
        return options[name]
    camel = "".join(p.capitalize() for p in name.split("_"))
    return options.get(camel, options.get(camel.lower(), default))


def text_option(options: dict[str, Any], name: str, default: str, where: str) -> bytes:
    """A separator-like option as bytes (descriptors write it as a string)."""
    value = option(options, name, default)
    if value is None:
        value = default
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray)) or not value:
        raise DescriptorError(
            f"{where} must be a non-empty string, not {value!r}",
            field=where,
            fix=f'write it as a JSON string, e.g. "{default.encode("unicode_escape").decode()}"',
        )
    return bytes(value)


def reason_of(exc: RecordError | SchemaError) -> str:
    """The reason of a record error, without the index/slot prefix, naming the field path if any."""
    reason = getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, SchemaError) and exc.path not in (None, "", "$"):
        return f"at {exc.path}: {reason}"
    return reason


def relocated(
    exc: RecordError | SchemaError, index: int, *, slot: int | None, stream: str | None, raw: Any
) -> RecordError | SchemaError:
    """``exc`` again, located at record ``index`` (codecs raise it before they know the index)."""
    if isinstance(exc, SchemaError):
        new: RecordError | SchemaError = SchemaError(
            exc.reason,
            path=exc.path,
            value=exc.value,
            record_index=index,
            slot=slot if slot is not None else exc.slot,
            schema=exc.schema,
            hint=exc.hint,
        )
    else:
        new = RecordError(exc.reason, record_index=index, slot=slot, stream=stream, raw=raw, hint=exc.hint)
    if hasattr(exc, "errors"):
        new.errors = exc.errors  # type: ignore[union-attr]  # every mismatch, from Schema.validate
    new.__cause__ = exc.__cause__ or exc
    return new


def to_bytes(value: Any) -> bytes:
    """Bytes of a bytes-like or str record (what the raw encodings accept on output)."""
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise RecordError(
        f"expected bytes, got {type(value).__name__}",
        hint="the null encoding writes raw bytes; use the json or msgpack encoding for structured records",
    )


def enc_hook(obj: Any) -> Any:
    """Turn NumPy and pandas values into what msgspec encodes natively (JSON and msgpack output).

    Examples
    --------
    >>> import numpy as np
    >>> enc_hook(np.float64(1.5)), enc_hook(np.arange(3))
    (1.5, [0, 1, 2])
    """
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    pd = sys.modules.get("pandas")
    if pd is not None:
        if obj is pd.NaT or obj is pd.NA:
            return None
        if isinstance(obj, pd.Timestamp):
            return obj.isoformat()
        if isinstance(obj, pd.Timedelta):
            return obj.isoformat()
        if isinstance(obj, pd.Series):
            return obj.tolist()
        if isinstance(obj, pd.DataFrame):
            return obj.to_dict("records")
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, tuple):  # a NamedTuple subclass msgspec did not take (e.g. with a custom __new__)
        return list(obj)
    raise TypeError(
        f"cannot encode a {type(obj).__module__}.{type(obj).__qualname__}; "
        "convert it to a dict, list, str or number first"
    )


class FrameDecoder(Decoder):
    """A decoder over frames: the batch-then-frame loop and rejections. Envelopes subclass it.

    Subclasses cut bytes into frames and call :meth:`_decode` with them (and whether a probe saw a
    possible control record or end marker in the bytes they came from).
    """

    def __init__(
        self,
        encoding: Encoding,
        *,
        errors: str = "reject",
        stream: str | None = None,
        slot: int | None = None,
        end_marker: str | None = None,
    ) -> None:
        super().__init__(errors=errors, stream=stream, slot=slot)
        self.encoding = encoding
        self._batch = encoding.decode_batch
        self._frame = encoding.decode_frame
        self._control = encoding.parse_control
        self._marker = encoding.marker
        self._end = end_marker.encode("utf-8") if end_marker else None
        #: True when the probe says a buffer may hold a control record or the end marker.
        self._probe = make_probe([self._marker, self._end])

    def _careful(self, buf: bytes) -> bool:
        probe = self._probe
        return probe is not None and probe(buf)

    def _decode(self, frames: list[bytes], careful: bool = False, out: list[Any] | None = None) -> list[Any]:
        """Records of ``frames`` (appended to ``out`` when given); ``careful``: a probe saw a marker."""
        if careful:
            return self._decode_careful(frames, [] if out is None else out)
        try:
            values = self._batch(frames)
        except Exception:  # noqa: BLE001 - whatever failed, the per-frame pass finds and classifies it
            return self._decode_slowly(frames, [] if out is None else out)
        self.count += len(frames)
        if out is None:
            return values
        out += values
        return out

    def _decode_careful(self, frames: list[bytes], out: list[Any]) -> list[Any]:
        # Only the frames that may be a control record or the end marker go one by one; the runs
        # between them still decode as batches.
        marker, end = self._marker, self._end
        short = len(end) + 2 if end is not None else -1
        start = 0
        for i, frame in enumerate(frames):
            if (marker is not None and marker in frame) or (len(frame) <= short and frame.strip() == end):
                if start < i:
                    self._decode(frames[start:i], out=out)
                self._decode_slowly([frame], out)
                start = i + 1
        if start < len(frames):
            self._decode(frames[start:] if start else frames, out=out)
        return out

    def _decode_slowly(self, frames: list[bytes], out: list[Any] | None = None) -> list[Any]:
        """Frame by frame: controls, the end marker, records, and rejections (appended to ``out``)."""
        if out is None:
            out = []
        marker, end = self._marker, self._end
        for frame in frames:
            index = self.count
            self.count = index + 1
            try:
                if end is not None and len(frame) <= len(end) + 2 and frame.strip() == end:
                    out.append(END)
                    continue
                if marker is not None and marker in frame:
                    control = self._control(frame)
                    if control is not None:
                        out.append(control)
                        continue
                out.append(self._frame(frame, index))
            except RECORD_ERRORS as exc:
                self._reject(exc, index, frame, out)
        return out

    def _reject(self, exc: RecordError | SchemaError, index: int, raw: Any, done: list[Any]) -> None:
        """Record (or, with ``errors="raise"``, raise) a bad frame; ``done`` are the records before it."""
        if self.errors == "raise":
            err = relocated(exc, index, slot=self.slot, stream=self.stream, raw=raw)
            err.records = list(done)  # type: ignore[union-attr]
            raise err
        kind = "schema" if isinstance(exc, SchemaError) else "encoding"
        reason = reason_of(exc)
        self.rejected.append(Rejected(index, reason, raw, kind, self.slot))
        logger.debug("stream %s: rejected record %d (%s): %s", self.stream, index, kind, reason)

    def _reject_raw(
        self, reason: str, index: int, raw: Any, done: list[Any], hint: str | None = None
    ) -> None:
        self._reject(RecordError(reason, hint=hint), index, raw, done)


def split_at_controls(records: list[Any]) -> list[list[Any]]:
    """``records`` cut into runs of plain records and single control records, in order.

    Examples
    --------
    >>> from fastscore_sdk.codec.base import SET
    >>> split_at_controls([1, 2, SET, 3])
    [[1, 2], [Control(kind='set', id=None, timestamp=None, misc=None)], [3]]
    """
    runs: list[list[Any]] = []
    start = 0
    for i in [i for i, r in enumerate(records) if type(r) is Control]:
        if start < i:
            runs.append(records[start:i])
        runs.append([records[i]])
        start = i + 1
    if start < len(records):
        runs.append(records[start:])
    return runs


class FrameEncoder(Encoder):
    """An encoder over frames: the batch-then-record loop, control records and rejections."""

    def __init__(
        self,
        encoding: Encoding,
        *,
        errors: str = "reject",
        stream: str | None = None,
        slot: int | None = None,
    ) -> None:
        super().__init__(errors=errors, stream=stream, slot=slot)
        self.encoding = encoding
        self._batch = encoding.encode_batch
        self._record = encoding.encode_record
        self._control = encoding.control_bytes

    def _frames(self, records: list[Any]) -> list[bytes]:
        """Encoded frames of ``records`` (controls included, rejected records left out)."""
        if Control in set(map(type, records)):
            # A recordset ends with a `set` marker: encode the records around it in bulk all the same.
            out: list[bytes] = []
            for run in split_at_controls(records):
                out.extend(self._frames(run) if type(run[0]) is not Control else self._frames_slowly(run))
            return out
        try:
            frames = self._batch(records)
        except Exception:  # noqa: BLE001 - whatever failed, the per-record pass finds and classifies it
            return self._frames_slowly(records)
        self.count += len(records)
        return frames

    def _frames_slowly(
        self, records: list[Any], *, check: Callable[[bytes], str | None] | None = None
    ) -> list[bytes]:
        out: list[bytes] = []
        for record in records:
            index = self.count
            self.count = index + 1
            if type(record) is Control:
                try:
                    data = self._control(record)
                    problem = check(data) if check is not None and data is not None else None
                    if problem:
                        raise RecordError(problem)
                except RECORD_ERRORS as exc:
                    self._reject(exc, index, record)
                    continue
                if data is None:
                    logger.debug(
                        "stream %s: the %s encoding has no in-band control records; %s dropped",
                        self.stream,
                        self.encoding.name,
                        record.kind,
                    )
                else:
                    out.append(data)
                continue
            try:
                frame = self._record(record, index)
                if check is not None:
                    problem = check(frame)
                    if problem:
                        raise RecordError(problem)
                out.append(frame)
            except RECORD_ERRORS as exc:
                self._reject(exc, index, record)
        return out

    def _reject(self, exc: RecordError | SchemaError, index: int, record: Any) -> None:
        if self.errors == "raise":
            raise relocated(exc, index, slot=self.slot, stream=self.stream, raw=None)
        kind = "schema" if isinstance(exc, SchemaError) else "encoding"
        reason = reason_of(exc)
        self.rejected.append(Rejected(index, reason, record, kind, self.slot))
        logger.debug("stream %s: rejected output record %d (%s): %s", self.stream, index, kind, reason)

    def encode_messages(self, records: list[Any]) -> list[bytes]:
        frames = self._frames(records)
        self.bytes_written += sum(map(len, frames))
        return frames


def schema_is(schema: Any, *primitives: str) -> bool:
    """True when ``schema`` is one of the Avro ``primitives`` (so every datum of the encoding fits)."""
    avro = getattr(schema, "avro", schema)
    if isinstance(avro, dict) and set(avro) <= {"type", "name", "doc"}:
        avro = avro.get("type")
    return isinstance(avro, str) and avro in primitives


def validator(schema: Any) -> Callable[[list[Any]], None] | None:
    """A batch check for ``schema``: raises ValueError if any value does not match (None: no schema).

    The hot path calls ``is_valid`` (fast, no explanations); the per-record pass then calls
    ``validate`` only for a batch that failed, to say which record and field.
    """
    if schema is None:
        return None
    # The compiled predicate behind is_valid, when the schema exposes it, saves a call per record.
    is_valid = getattr(schema, "predicate", None) or schema.is_valid

    def check(values: list[Any]) -> None:
        if not all(map(is_valid, values)):
            raise ValueError("a record does not match the schema")

    return check


class MsgspecEncoding(Encoding):
    """What the json and msgpack encodings share: msgspec encoders, the schema check of a whole
    batch, and control records written and read as ``{"$fastscore": kind}`` maps.

    Subclasses set ``_enc`` (record -> bytes), ``_plain`` (bytes -> value, no schema) and ``_check``
    (a batch validator from :func:`validator`, or None).
    """

    _enc: Callable[[Any], bytes]
    _plain: Callable[[bytes], Any]
    _check: Callable[[list[Any]], None] | None

    def parse_control(self, frame: bytes) -> Control | None:
        import msgspec

        from .control import control_from_mapping

        try:
            value = self._plain(frame)
        except msgspec.DecodeError:
            return None
        return control_from_mapping(value)

    def encode_batch(self, records: list[Any]) -> list[bytes]:
        if self._check is not None:
            self._check(records)
        enc = self._enc
        return [enc(r) for r in records]

    def control_bytes(self, control: Control) -> bytes | None:
        from .control import control_mapping

        return self._enc(control_mapping(control))
