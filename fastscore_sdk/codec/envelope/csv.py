"""The ``delimited-csv`` envelope: RFC 4180 rows (csv encoding only).

Rows end at ``Separator`` (default ``\\r\\n``) outside quotes: a quoted cell may hold the delimiter, the
separator and line breaks, and a doubled quote is a literal quote. With ``SkipHeader`` (default true)
the first row is the header: its column names key the records, and with a schema they must be the
schema's field names (in any order), else reading stops with a :class:`~fastscore_sdk.errors.SchemaError`
that names the expected and the found columns. With ``SkipBlankLines`` (default true) empty rows are
skipped and not counted. On a message transport each message is a whole CSV document (its own header).

On output, the header line comes first when ``SkipHeader`` is true (with a schema its fields, else the
first record's keys), then one row per record.
"""

from __future__ import annotations

from typing import Any

from ...errors import DescriptorError, RecordError, SchemaError
from .._common import RECORD_ERRORS, FrameDecoder, FrameEncoder, option, text_option
from ..base import END, Control, Decoder, Encoder, Encoding, Envelope

__all__ = ["CsvDecoder", "CsvEncoder", "DelimitedCsv"]


class DelimitedCsv(Envelope):
    """``{"Type": "delimited-csv", "Separator": "\\r\\n", "SkipHeader": true, "SkipBlankLines": true}``.

    Examples
    --------
    >>> from fastscore_sdk.codec import decoder
    >>> dec = decoder({"type": "delimited-csv"}, "csv")
    >>> dec.feed(b'id,name\\r\\n1,"Doe, Jane"\\r\\n\\r\\n2,"multi\\r\\nline"\\r\\n')
    [{'id': 1, 'name': 'Doe, Jane'}, {'id': 2, 'name': 'multi\\r\\nline'}]
    """

    name = "delimited-csv"

    def __init__(self, options: Any, encoding: Encoding) -> None:
        super().__init__(options, encoding)
        if encoding.name != "csv":
            raise DescriptorError(
                f"the delimited-csv envelope needs the csv encoding, not {encoding.name}",
                field="Envelope",
                fix='set "Encoding": "csv", or use the delimited envelope (restriction 14)',
            )
        self.separator = text_option(self.options, "separator", "\r\n", "Envelope.Separator")
        skip = option(self.options, "skip_header", True)
        self.skip_header = True if skip is None else bool(skip)
        blank = option(self.options, "skip_blank_lines", True)
        self.skip_blank_lines = True if blank is None else bool(blank)

    def decoder(self, **kw: Any) -> Decoder:
        return CsvDecoder(self, **kw)

    def encoder(self, **kw: Any) -> Encoder:
        return CsvEncoder(self, **kw)


class CsvDecoder(FrameDecoder):
    """Cuts rows at separators outside quotes, reads the header, types the cells."""

    def __init__(self, envelope: DelimitedCsv, **kw: Any) -> None:
        super().__init__(envelope.encoding, **kw)
        self.envelope = envelope
        self._csv: Any = envelope.encoding
        self._sep = envelope.separator
        self._quote = self._csv.quotechar.encode("utf-8")
        self._tail = b""
        self._start()

    def _start(self) -> None:
        """Expect a header (again, for a new document) or take the names from the schema."""
        self._header_due = self.envelope.skip_header
        self._names: list[str] | None = None if self._header_due else self._csv.names
        self._convs = self._csv.converters(self._names) if self._names is not None else None

    def _split(self, buf: bytes) -> tuple[list[bytes], bytes]:
        """Complete rows of ``buf`` and the unfinished rest (a separator in quotes is no row end)."""
        sep, quote = self._sep, self._quote
        parts = buf.split(sep)
        rest = parts.pop()
        if quote not in buf:
            return parts, rest
        frames: list[bytes] = []
        pending: list[bytes] | None = None
        for part in parts:
            odd = part.count(quote) & 1
            if pending is None:
                if odd:
                    pending = [part]
                else:
                    frames.append(part)
            else:
                pending.append(part)
                if odd:  # the quote opened earlier closes in this part
                    frames.append(sep.join(pending))
                    pending = None
        if pending is not None:
            pending.append(rest)
            rest = sep.join(pending)
        return frames, rest

    def _read_header(self, frame: bytes) -> None:
        try:
            text = frame.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not part of the name
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"the CSV header is not UTF-8 (byte {exc.start})", stream=self.stream, slot=self.slot
            ) from None
        header = [h.strip() for h in next(iter(self._csv.reader([text])), [])]
        try:
            self._csv.check_header(header)
        except SchemaError as exc:
            raise SchemaError(exc.reason, schema=exc.schema, slot=self.slot, hint=exc.hint) from None
        self._names = header
        self._convs = self._csv.converters(header)
        self._header_due = False

    def _rows(self, frames: list[bytes], careful: bool) -> list[Any]:
        if self.envelope.skip_blank_lines:
            frames = [f for f in frames if f.strip()]
        if self._header_due and frames:
            self._read_header(frames[0])
            frames = frames[1:]
        if not frames:
            return []
        csv_enc = self._csv
        if not careful:
            try:
                lines = [f.decode("utf-8") for f in frames]
                rows = list(csv_enc.reader(lines))
                if len(rows) != len(frames):
                    raise ValueError("a frame held more than one row")
                out = csv_enc.rows_to_records(rows, self._names, self._convs)
            except Exception:  # noqa: BLE001 - whatever failed, the per-row pass finds and classifies it
                pass
            else:
                self.count += len(frames)
                return out
        return self._rows_slowly(frames)

    def _rows_slowly(self, frames: list[bytes]) -> list[Any]:
        out: list[Any] = []
        marker, end = self._marker, self._end
        csv_enc = self._csv
        for frame in frames:
            index = self.count
            self.count = index + 1
            try:
                if end is not None and frame.strip() == end:
                    out.append(END)
                    continue
                if marker is not None and marker in frame:
                    control = csv_enc.parse_control(frame)
                    if control is not None:
                        out.append(control)
                        continue
                row = csv_enc.parse_row(frame)
                out.append(csv_enc.row_to_record(row, self._names, self._convs, index))
            except RECORD_ERRORS as exc:
                self._reject(exc, index, frame, out)
        return out

    def feed(self, chunk: bytes) -> list[Any]:
        self.bytes_read += len(chunk)
        buf = self._tail + chunk if self._tail else chunk
        frames, self._tail = self._split(buf)
        return self._rows(frames, self._careful(buf)) if frames else []

    def _last(self, rest: bytes, out: list[Any]) -> list[Any]:
        if rest.count(self._quote) & 1:
            index = self.count
            self.count += 1
            self._reject_raw(
                "unterminated quoted cell at the end of the input", index, rest, out, hint="check the quoting"
            )
            return out
        return out + self._rows([rest], self._careful(rest))

    def feed_message(self, message: bytes) -> list[Any]:
        self.bytes_read += len(message)
        self._start()
        frames, rest = self._split(message)
        out = self._rows(frames, self._careful(message)) if frames else []
        return self._last(rest, out) if rest else out

    def finish(self) -> list[Any]:
        rest, self._tail = self._tail, b""
        return self._last(rest, []) if rest else []

    def reset(self) -> None:
        self._tail = b""
        self._start()


class CsvEncoder(FrameEncoder):
    """The header line first (``SkipHeader``), then each record as a row ended by the separator."""

    def __init__(self, envelope: DelimitedCsv, **kw: Any) -> None:
        super().__init__(envelope.encoding, **kw)
        self.envelope = envelope
        self._csv: Any = envelope.encoding
        self._sep = envelope.separator
        self._header_due = envelope.skip_header

    def _header(self, records: list[Any]) -> bytes:
        if not self._header_due or self._csv.output_names(records) is None:
            return b""
        self._header_due = False
        return self._csv.header(self._sep.decode("utf-8")).encode("utf-8")

    def _body(self, records: list[Any]) -> bytes:
        sep = self._sep
        if records and Control not in map(type, records):
            try:
                data = self._csv.encode_joined(records, sep)
            except Exception:  # noqa: BLE001 - whatever failed, the per-record pass finds and classifies it
                pass
            else:
                self.count += len(records)
                return data
        return b"".join([f + sep for f in self._frames_slowly(records)])

    def encode(self, records: list[Any]) -> bytes:
        data = self._header(records) + self._body(records)
        self.bytes_written += len(data)
        return data

    def encode_messages(self, records: list[Any]) -> list[bytes]:
        # Each message is a whole CSV document, as the decoder reads one.
        out = []
        for record in records:
            self._header_due = self.envelope.skip_header
            data = self._header([record]) + self._body([record])
            if data:
                out.append(data)
        self.bytes_written += sum(map(len, out))
        return out
