"""Streams: a descriptor put together with its transport, envelope, encoding and schema.

A :class:`Stream` is cheap to make and never touches the network or the disk until asked: ``verify``
is static, ``sample``/``read``/``rate`` open the transport, ``open_writer`` writes to it. The
engine builds on :class:`StreamReader` and :class:`StreamWriter`, the same objects ``read`` and
``open_writer`` use, so a stream behaves the same in a notebook, a script and an engine.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import codec, descriptor
from .codec.base import Control
from .descriptor.traits import traits_of
from .errors import DescriptorError, NotSupportedError, Rejected, TransportError
from .transports import open_transport

if TYPE_CHECKING:
    import pandas as pd

    from .library import Library
    from .schema import Schema

__all__ = ["Sample", "Stream", "StreamReader", "StreamWriter"]

log = logging.getLogger(__name__)

#: How long ``read`` waits on a transport per poll; short enough to notice a stop request quickly.
_POLL = 0.25


class Stream:
    """A FastScore stream: a descriptor, its name and the library it resolves ``$ref`` names in.

    Parameters
    ----------
    name_or_literal
        A stream name, or a literal descriptor such as ``"file:data/in.jsons"``, ``"rest:"`` or
        ``"kafka:broker:9092/topic.json"`` (then ``desc`` is omitted and the name is the literal).
    desc
        The descriptor: a dict, JSON text, or a literal. Omitted with a plain name, the stream is
        looked up in ``library``.
    library
        Where ``{"$ref": name}`` schemas (and a stream given by name only) are found; the session
        library by default.

    Attributes
    ----------
    name : str
    desc : dict
        The descriptor as written (old spellings kept). Never mutated by this SDK.

    Examples
    --------
    >>> s = Stream("inline:1,2,3")
    >>> s.verify()["transport"]
    {'type': 'inline', 'data': ['1', '2', '3']}
    >>> list(s.read())
    [1, 2, 3]
    """

    def __init__(
        self,
        name_or_literal: str,
        desc: dict[str, Any] | str | None = None,
        *,
        library: Library | None = None,
    ) -> None:
        self._library = library
        if desc is None:
            if descriptor.is_literal(name_or_literal):
                desc = descriptor.from_literal(name_or_literal)
            else:
                found = self.library.streams[name_or_literal]
                desc = found.desc
        elif isinstance(desc, str):
            desc = _parse_text(desc, name_or_literal)
        elif isinstance(desc, dict):
            # A private copy: later changes to the caller's dict must not change this stream.
            desc = copy.deepcopy(desc)
        else:
            raise DescriptorError(
                f"a stream descriptor must be a dict, JSON text or a literal, not {type(desc).__name__}",
                code="FS-D000",
                field="",
                stream=name_or_literal,
            )
        self.name = name_or_literal
        self.desc: dict[str, Any] = desc

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], *, library: Library | None = None) -> Stream:
        """Read a descriptor file (JSON); the stream's name is the file stem.

        Examples
        --------
        >>> import json, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "rest-trip.json"
        >>> _ = p.write_text(json.dumps({"Transport": "REST", "Encoding": "json"}))
        >>> Stream.load(p).name
        'rest-trip'
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise TransportError(
                f"cannot read the descriptor file {str(p)!r}: {exc.strerror or exc}"
            ) from exc
        return cls(p.stem, _parse_text(text, p.stem, source=str(p)), library=library)

    @classmethod
    def from_pandas(
        cls, df: Any, name: str | None = None, schema: Any = None, *, library: Library | None = None
    ) -> Stream:
        """An inline input stream carrying the rows of a DataFrame as JSON records.

        The schema is inferred from the rows unless given (a Schema, Avro, or a library schema name).
        See :func:`fastscore_sdk.notebook.frames.from_pandas`.

        Examples
        --------
        >>> import pandas as pd
        >>> Stream.from_pandas(pd.DataFrame({"x": [1.5, 2.5]}), "pts").sample().records
        [{'x': 1.5}, {'x': 2.5}]
        """
        from .notebook.frames import from_pandas

        return from_pandas(df, name, schema, library=library)

    @classmethod
    def collect(
        cls,
        name: str | None = None,
        *,
        encoding: str = "json",
        schema: Any = None,
        library: Library | None = None,
    ) -> Stream:
        """An output stream that keeps what a model writes: ``.records`` and ``.to_pandas()`` read it.

        See :func:`fastscore_sdk.notebook.frames.collect`.

        Examples
        --------
        >>> out = Stream.collect("scores")
        >>> with out.open_writer() as w:
        ...     w.write({"y": 1.0})
        >>> out.to_pandas()["y"].tolist()
        [1.0]
        """
        from .notebook.frames import collect

        return collect(name, encoding=encoding, schema=schema, library=library)

    @property
    def library(self) -> Library:
        if self._library is None:
            from .library import Library

            self._library = Library.default()
        return self._library

    # -- static checks -----------------------------------------------------------------------
    def verify(self, slot: int | None = None) -> dict[str, Any]:
        """Check the descriptor without opening anything; return its interpreted form.

        The interpreted form is the snake_case dict the original engine printed for
        ``fastscore stream verify`` (defaults applied, shortcuts expanded, ``$ref`` resolved),
        with secrets shown as ``*****``.

        Parameters
        ----------
        slot
            When given, also check the stream can be used on that slot (even: input, odd: output).

        Raises
        ------
        DescriptorError
            Its ``problems`` list every violation (rule code, field, message, fix).
        """
        return self._interpret(slot=slot, reveal=False)

    @property
    def schema(self) -> Schema | None:
        """The stream's schema as a :class:`~fastscore_sdk.schema.Schema`, or None when untyped."""
        return self._schema_of(self._interpret(slot=None, reveal=False))

    def _interpret(self, *, slot: int | None, reveal: bool) -> dict[str, Any]:
        return descriptor.interpret(
            self.desc,
            slot=slot,
            resolve_schema=self._resolve_schema,
            reveal_secrets=reveal,
            check_secrets=True,
            stream=self.name,
        )

    def _resolve_schema(self, name: str) -> Any:
        return self.library.schemas[name].avro

    def _schema_of(self, interpreted: dict[str, Any], inherit: Schema | None = None) -> Schema | None:
        avro = interpreted.get("schema")
        if avro == "$inherit" or (avro is None and "Schema" not in self.desc):
            return inherit
        if avro is None:
            return None
        from .schema import Schema

        ref = self.desc.get("Schema") if isinstance(self.desc, dict) else None
        name = ref.get("$ref") if isinstance(ref, dict) and "$ref" in ref else None
        return Schema(name or f"{self.name}.schema", avro, library=self._library)

    # -- reading -----------------------------------------------------------------------------
    def open_reader(
        self, *, errors: str = "reject", slot: int | None = None, inherit: Schema | None = None
    ) -> StreamReader:
        """Open the transport for reading; the caller closes the reader (it is a context manager).

        ``inherit`` is the schema a stream without one of its own (``"$inherit"`` or no ``Schema``
        field) checks records against: the engine passes the model's schema for the slot.
        """
        return StreamReader(self, errors=errors, slot=slot, inherit=inherit)

    def read(self, *, errors: str = "reject", controls: bool = False) -> Iterator[Any]:
        """Iterate over decoded, schema-checked records until the stream ends.

        Parameters
        ----------
        errors
            ``"reject"`` (default): a bad record is skipped and counted (see ``StreamReader.rejected``);
            ``"raise"``: it raises :class:`~fastscore_sdk.errors.RecordError` or
            :class:`~fastscore_sdk.errors.SchemaError`.
        controls
            Also yield ``set`` and ``pig`` control records (as :class:`~fastscore_sdk.codec.Control`).

        A looping stream (``"Loop": true``) never ends: stop iterating when you have enough.
        """
        with self.open_reader(errors=errors) as reader:
            while True:
                batch = reader.read_batch(timeout=None)
                if batch is None:
                    return
                if controls or not reader.has_controls:
                    yield from batch
                else:
                    for rec in batch:
                        if type(rec) is not Control:
                            yield rec

    def sample(self, n: int = 10, *, timeout: float = 10.0, errors: str = "reject") -> Sample:
        """Read up to ``n`` records into a :class:`Sample` (fewer if the stream ends or time runs out).

        Examples
        --------
        >>> Stream("inline:1,2,3").sample(2).records
        [1, 2]
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        deadline = time.monotonic() + timeout if timeout is not None else None
        records: list[Any] = []
        with self.open_reader(errors=errors) as reader:
            reader.keep_input = True
            while len(records) < n:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                batch = reader.read_batch(timeout=min(left, _POLL) if left is not None else _POLL)
                if batch is None:
                    break
                records.extend(
                    batch if not reader.has_controls else (r for r in batch if type(r) is not Control)
                )
            del records[n:]
            return Sample(self, records, reader)

    def rate(self, n: int = 100_000, *, seconds: float = 5.0) -> dict[str, float]:
        """Measure how fast this stream reads here: ``{"rps": records/s, "mbps": MB/s}``.

        Reads up to ``n`` records or for ``seconds``, whichever comes first.
        """
        count = 0
        start = time.perf_counter()
        with self.open_reader() as reader:
            while count < n and time.perf_counter() - start < seconds:
                batch = reader.read_batch(timeout=_POLL)
                if batch is None:
                    break
                count += len(batch)
            elapsed = max(time.perf_counter() - start, 1e-9)
            nbytes = reader.bytes_read
        return {"rps": count / elapsed, "mbps": nbytes / elapsed / 1e6}

    # -- writing -----------------------------------------------------------------------------
    def open_writer(
        self, *, errors: str = "reject", slot: int | None = None, inherit: Schema | None = None
    ) -> StreamWriter:
        """Open the transport for writing.

        Examples
        --------
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "out.jsons")
        >>> with Stream(f"file:{path}").open_writer() as w:
        ...     w.write({"x": 1})
        >>> open(path).read()
        '{"x":1}\\n'
        """
        return StreamWriter(self, errors=errors, slot=slot, inherit=inherit)

    # -- display -----------------------------------------------------------------------------
    def to_json(self, *, indent: int | None = 2, redact: bool = True) -> str:
        """The descriptor as JSON text (secrets redacted unless ``redact=False``)."""
        desc = descriptor.redact(self.desc) if redact else self.desc
        return json.dumps(desc, indent=indent, ensure_ascii=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and (self.name, self.desc) == (other.name, other.desc)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, {json.dumps(descriptor.redact(self.desc), ensure_ascii=False)})"

    def _repr_html_(self) -> str:
        shown = html.escape(json.dumps(descriptor.redact(self.desc), indent=2, ensure_ascii=False))
        try:
            interpreted = html.escape(json.dumps(self.verify(), indent=2, ensure_ascii=False, default=str))
            problems = ""
        except DescriptorError as exc:
            interpreted = ""
            rows = "".join(
                f"<tr><td><code>{html.escape(p.code)}</code></td><td>{html.escape(p.field)}</td>"
                f"<td>{html.escape(p.message)}</td><td>{html.escape(p.fix)}</td></tr>"
                for p in exc.problems
            )
            problems = (
                "<table><thead><tr><th>rule</th><th>field</th><th>problem</th><th>fix</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>"
            )
        parts = [f"<div><b>Stream</b> <code>{html.escape(self.name)}</code>"]
        parts.append(f"<details open><summary>descriptor</summary><pre>{shown}</pre></details>")
        if interpreted:
            parts.append(f"<details><summary>interpreted</summary><pre>{interpreted}</pre></details>")
        if problems:
            parts.append(f"<p>Problems:</p>{problems}")
        parts.append("</div>")
        return "".join(parts)


def _parse_text(text: str, name: str, *, source: str | None = None) -> dict[str, Any]:
    """A descriptor from JSON text or a literal; errors name the stream (and the file it came from)."""
    try:
        return descriptor.parse(text)
    except DescriptorError as exc:
        raise DescriptorError(
            problems=exc.problems, stream=f"{name} ({source})" if source else name
        ) from None


def _open_parts(
    stream: Stream, slot: int | None, inherit: Schema | None
) -> tuple[dict[str, Any], Schema | None, dict[str, Any]]:
    """The interpreted descriptor (secrets revealed), schema and transport spec of a stream about to
    be opened; refuses transports that parse but cannot run yet."""
    interpreted = stream._interpret(slot=slot, reveal=True)
    spec = interpreted["transport"]
    if not traits_of(spec).supported:
        raise NotSupportedError(
            f"stream {stream.name!r}: the {spec['type']} transport is not supported yet",
            hint="the descriptor verifies, but this SDK cannot read or write it",
        )
    return interpreted, stream._schema_of(interpreted, inherit), spec


class StreamReader:
    """An open input stream: a transport source, a decoder and the loop/soft-EOF logic.

    ``read_batch`` returns whatever records are available (a list, possibly empty on timeout),
    with :class:`~fastscore_sdk.codec.Control` items in place, or ``None`` at the end.

    Attributes
    ----------
    rejected : list of Rejected
    records_read, bytes_read : int
    """

    def __init__(
        self,
        stream: Stream,
        *,
        errors: str = "reject",
        slot: int | None = None,
        inherit: Schema | None = None,
    ) -> None:
        self.stream = stream
        self.slot = slot
        self.interpreted, self.schema, spec = _open_parts(stream, slot, inherit)
        interpreted = self.interpreted
        self.traits = traits_of(spec)
        self.loop = bool(interpreted.get("loop"))
        self.decoder = codec.decoder(
            interpreted.get("envelope"),
            interpreted.get("encoding"),
            self.schema,
            errors=errors,
            stream=stream.name,
            slot=slot,
            end_marker=interpreted.get("end_marker"),
        )
        transport = open_transport(spec, stream=stream.name)
        # SkipToRecord counts messages, so only boundary-preserving transports take it (rule FS-D009).
        skip_to_record = interpreted.get("skip_to_record") if self.traits.preserves_boundaries else None
        self.source = transport.source(skip_to=interpreted.get("skip_to"), skip_to_record=skip_to_record)
        self._messages = self.source.preserves_boundaries
        # Record transports (ODBC) hand over records, not bytes: no envelope, no encoding.
        self._records = self.source.records
        self.records_read = 0
        #: Whether the last batch returned by ``read_batch`` holds control records.
        self.has_controls = False
        self._ended = False
        self._pass_records = 0
        #: When true, the raw transport items are kept (for ``Sample.raw``).
        self.keep_input = False
        self.input_items: list[bytes] = []

    @property
    def rejected(self) -> list[Rejected]:
        return self.decoder.rejected

    @property
    def bytes_read(self) -> int:
        return self.decoder.bytes_read

    def read_batch(self, timeout: float | None = None) -> list[Any] | None:
        """Records available now (waiting up to ``timeout`` seconds), or None at the end."""
        if self._ended:
            return None
        while True:
            items = self.source.read(timeout)
            if items is None:
                out = self.decoder.finish()
                if self.loop and self._pass_records and self.traits.seekable:
                    # Loop only when the pass produced records: an empty looping file must end,
                    # not spin.
                    self.source.rewind()
                    self.decoder.reset()
                    self._pass_records = 0
                    if out:
                        return self._deliver(out)
                    continue
                self._ended = True
                return self._deliver(out) if out else None
            if self._records:
                if items or timeout is not None:
                    return self._deliver(list(items))
                continue
            if self.keep_input:
                self.input_items.extend(items)
            decoder = self.decoder
            if self._messages:
                out = decoder.feed_messages(items)
            elif len(items) == 1:
                out = decoder.feed(items[0])
            else:
                out = []
                for item in items:
                    out.extend(decoder.feed(item))
            if out or timeout is not None:
                return self._deliver(out)

    def _deliver(self, out: list[Any]) -> list[Any] | None:
        # One C-level pass tells whether the batch holds control records at all; only then is it
        # searched record by record (this keeps the common case near the codec's own speed).
        self.has_controls = has = Control in set(map(type, out))
        if has:
            for i, rec in enumerate(out):
                if type(rec) is Control and rec.kind == "end":
                    # A soft EOF (`end` control record or EndMarker) ends the stream where it stands.
                    del out[i:]
                    self._ended = True
                    self.close()
                    break
            self.has_controls = Control in set(map(type, out))
        self.records_read += len(out)
        self._pass_records += len(out)
        if not out and self._ended:
            return None
        return out

    def position(self) -> Any:
        """The transport's read position after the records returned so far (see ``Source.position``)."""
        return self.source.position()

    def commit(self, position: Any) -> None:
        """Tell the transport everything up to ``position`` was processed and delivered."""
        if position is not None:
            self.source.commit(position)

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class StreamWriter:
    """An open output stream: an encoder and a transport sink.

    ``write`` buffers records and hands them to the sink in batches; ``close`` flushes and
    completes the output; leaving a ``with`` block through an exception aborts it instead.
    """

    #: Records buffered before they are encoded and written.
    batch_size = 1000

    def __init__(
        self,
        stream: Stream,
        *,
        errors: str = "reject",
        slot: int | None = None,
        inherit: Schema | None = None,
    ) -> None:
        self.stream = stream
        self.interpreted, self.schema, spec = _open_parts(stream, slot, inherit)
        interpreted = self.interpreted
        self.encoder = codec.encoder(
            interpreted.get("envelope"),
            interpreted.get("encoding"),
            self.schema,
            errors=errors,
            stream=stream.name,
            slot=slot,
        )
        self.sink = open_transport(spec, stream=stream.name).sink()
        self._messages = self.sink.preserves_boundaries
        # Record transports (ODBC) take the records themselves (rows), not encoded bytes.
        self._records = self.sink.records
        self._buffer: list[Any] = []
        self.records_written = 0
        self._closed = False

    @property
    def rejected(self) -> list[Rejected]:
        return self.encoder.rejected

    @property
    def bytes_written(self) -> int:
        return self.encoder.bytes_written

    def write(self, record: Any) -> None:
        """Queue one record (or a :class:`~fastscore_sdk.codec.Control`) for output."""
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self.flush(push=False)

    def write_many(self, records: Sequence[Any]) -> None:
        """Queue several records."""
        self._buffer.extend(records)
        if len(self._buffer) >= self.batch_size:
            self.flush(push=False)

    def flush(self, *, push: bool = True) -> None:
        """Encode what is buffered and hand it to the transport.

        With ``push=False`` the transport may keep the bytes in its own buffer a while longer: the
        engine pushes only when it has nothing else to do, because a flush that waits on the
        operating system lets other threads take over the interpreter (at a cost per flush).
        """
        batch, self._buffer = self._buffer, []
        if batch:
            if self._records:
                # Control records (set, pig) have no row form.
                rows = (
                    batch
                    if Control not in set(map(type, batch))
                    else [r for r in batch if type(r) is not Control]
                )
                if rows:
                    self.sink.write(rows)
            elif self._messages:
                items = self.encoder.encode_messages(batch)
                if items:
                    self.sink.write(items)
            else:
                data = self.encoder.encode(batch)
                if data:
                    self.sink.write([data])
            self.records_written += len(batch)
        if push:
            self.sink.flush()

    def close(self) -> None:
        """Flush and complete the output."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
            tail = self.encoder.finish()
            if tail:
                self.sink.write([tail])
        except BaseException:
            self.sink.abort()
            raise
        self.sink.close()

    def abort(self) -> None:
        """Stop without completing the output (no partial object where the transport allows it)."""
        if not self._closed:
            self._closed = True
            self._buffer.clear()
            self.sink.abort()

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Sample(Sequence[Any]):
    """Records read from a stream by :meth:`Stream.sample`.

    Attributes
    ----------
    records : list
        The decoded records, in stream order.
    rejected : list of Rejected
        Records that could not be decoded or did not match the schema (index, reason, raw bytes).
    stream : Stream
    """

    def __init__(self, stream: Stream, records: list[Any], reader: StreamReader) -> None:
        self.stream = stream
        self.records = records
        self.rejected: list[Rejected] = list(reader.rejected)
        self.schema = reader.schema
        self.bytes_read = reader.bytes_read
        self._interpreted = reader.interpreted
        self._input = reader.input_items
        self._messages = reader._messages
        self._raw: list[bytes] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: Any) -> Any:
        return self.records[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.records)

    @property
    def raw(self) -> list[bytes]:
        """The encoded bytes of each sampled record, as they came from the transport."""
        if self._raw is None:
            self._raw = self._frame_raw()
        return self._raw

    def _frame_raw(self) -> list[bytes]:
        envelope = self._interpreted.get("envelope")
        encoding = self._interpreted.get("encoding")
        framing_only = envelope is None or envelope.get("type") in ("delimited", "fixed")
        if not (framing_only and (envelope is not None or self._messages)):
            # Self-delimiting encodings (avro-binary, msgpack, OCF blocks) have no separate frames:
            # show each record encoded again, which is what the frame held.
            enc = codec.encoder(None, encoding, self.schema)
            return enc.encode_messages(list(self.records))
        frames: list[bytes] = []
        framer = codec.decoder(envelope, None, None)
        for item in self._input:
            frames.extend(framer.feed_message(item) if self._messages else framer.feed(item))
        frames.extend(framer.finish())
        skip = {r.index for r in self.rejected}
        # Control records are frames too; a lenient decoder (no schema) tells them apart.
        probe = codec.decoder(None, encoding, None)
        out = []
        for i, frame in enumerate(frames):
            if i in skip or type(frame) is Control:
                continue
            decoded = probe.feed_message(frame)
            if decoded and type(decoded[0]) is Control:
                continue
            out.append(frame)
            if len(out) == len(self.records):
                break
        return out

    def to_pandas(self) -> pd.DataFrame:
        """The records as a DataFrame: one column per field, in record order, dtypes from the schema.

        Records that are not objects (numbers, strings, arrays) become one column named ``value``.
        """
        import pandas as pd

        if self.schema is not None:
            return self.schema.to_pandas(self.records, column="value")
        records = self.records
        if records and set(map(type, records)) == {dict}:
            return pd.DataFrame(records)
        return pd.DataFrame({"value": records})

    def __repr__(self) -> str:
        return (
            f"<Sample of stream {self.stream.name!r}: {len(self.records)} records, "
            f"{len(self.rejected)} rejected, {self.bytes_read} bytes>"
        )

    def _repr_html_(self) -> str:
        frame = self.to_pandas()
        table = frame._repr_html_() if hasattr(frame, "_repr_html_") else html.escape(str(frame))
        footer = (
            f"<p><small>stream <code>{html.escape(self.stream.name)}</code>: "
            f"{len(self.records)} records, {len(self.rejected)} rejected, {self.bytes_read} bytes</small></p>"
        )
        rejected = ""
        if self.rejected:
            rows = "".join(
                f"<tr><td>{r.index}</td><td>{html.escape(r.kind)}</td><td>{html.escape(r.reason)}</td></tr>"
                for r in self.rejected[:20]
            )
            rejected = (
                "<details><summary>rejected records</summary><table><thead><tr><th>index</th><th>kind</th>"
                f"<th>reason</th></tr></thead><tbody>{rows}</tbody></table></details>"
            )
        return f"<div>{table}{footer}{rejected}</div>"
