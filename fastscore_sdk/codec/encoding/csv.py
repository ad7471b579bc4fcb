"""The ``csv`` encoding: one CSV row per frame, a dict keyed by column name.

Column names come from the record schema (or, with the ``delimited-csv`` envelope, from the header
line); values are typed by the schema's field types: ``int``/``long`` -> int, ``float``/``double`` ->
float, ``boolean`` -> bool (``true``/``false``/``1``/``0``, any case), ``string`` and ``enum`` -> str,
``bytes``/``fixed`` -> bytes (Latin-1, as Avro's JSON encoding does), records, arrays and maps -> parsed
from JSON text, and an empty cell -> None where the type allows null.

Without a schema, a cell that reads as a number becomes an int or a float (``"42"``, ``"-1.5e3"``),
except integers with leading zeros (``"007"`` stays a string: codes and zip codes keep their digits);
everything else stays a string, and an empty cell stays ``""``. Without a schema and without a header,
a row decodes to a list of values.

On output, None is an empty cell, booleans are ``true``/``false``, nested values are JSON text. An empty
string and a null are both an empty cell, so ``["null", "string"]`` fields read back "" as None.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import msgspec

from ...errors import DescriptorError, RecordError, SchemaError
from .._common import option, validator
from ..base import Control, Encoding
from ..control import UTF8_MARKER, parse_utf8_control, utf8_control

__all__ = ["CsvEncoding", "guess"]

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)\Z")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_json_decode = msgspec.json.decode
_json_encode = msgspec.json.Encoder().encode


def guess(cell: str) -> Any:
    """A schemaless cell's value: int or float when it reads as a number, else the string.

    Examples
    --------
    >>> [guess(c) for c in ["42", "-1.5", "007", "x", ""]]
    [42, -1.5, '007', 'x', '']
    """
    if cell and cell[0] in "+-.0123456789":
        if _INT.match(cell):
            return int(cell)
        if _FLOAT.match(cell):
            return float(cell)
    return cell


def _bool(cell: str) -> bool:
    return _BOOLS[cell.strip().lower()]


def _latin1(cell: str) -> bytes:
    return cell.encode("latin-1")


def _null(cell: str) -> None:
    if cell != "":
        raise ValueError("not empty")
    return None


def _named(avro: Any) -> str:
    return avro if isinstance(avro, str) else _json_encode(avro).decode()


def _converter(avro: Any) -> Callable[[str], Any]:
    """The function that reads a cell as the Avro type ``avro`` (raises ValueError/KeyError if it cannot)."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        nullable = len(branches) < len(avro)
        if len(branches) == 1:
            inner = _converter(branches[0])
            if not nullable:
                return inner
            return lambda cell: None if cell == "" else inner(cell)
        convs = [_converter(b) for b in branches]

        def union(cell: str) -> Any:
            if cell == "" and nullable:
                return None
            for conv in convs:
                try:
                    return conv(cell)
                except (ValueError, KeyError, msgspec.DecodeError):
                    continue
            raise ValueError("no branch of the union fits")

        return union
    if isinstance(avro, dict):
        kind = avro.get("type")
        if kind in ("record", "array", "map", "error"):
            return _json_decode
        if kind == "enum":
            return str
        if kind == "fixed":
            return _latin1
        return _converter(kind)
    return {
        "int": int,
        "long": int,
        "float": float,
        "double": float,
        "boolean": _bool,
        "string": str,
        "bytes": _latin1,
        "null": _null,
    }.get(avro, str)


def _cell(value: Any) -> Any:
    """A record value as the csv module should write it."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (dict, list, tuple)):
        return _json_encode(value).decode()
    return value


def _single_char(options: dict[str, Any], name: str, default: str) -> str:
    value = option(options, name, default)
    if value is None:
        value = default
    if not isinstance(value, str) or len(value) != 1:
        label = "".join(p.capitalize() for p in name.split("_"))
        raise DescriptorError(
            f"csv {label} must be one character, not {value!r}",
            field=f"Encoding.{label}",
            fix=f'use e.g. "{default}"',
        )
    return value


class CsvEncoding(Encoding):
    """CSV rows (see the module docstring for names and types).

    Examples
    --------
    >>> enc = CsvEncoding({"delimiter": ";"})
    >>> enc.decode_batch([b"1;x;2.5"])
    [[1, 'x', 2.5]]
    """

    name = "csv"
    textual = True
    # csv has no control record of its own: it uses the utf-8 line, ☮fastscore.end.
    marker = UTF8_MARKER

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        super().__init__(options, schema, **kw)
        self.quotechar = _single_char(self.options, "quote_character", '"')
        self.delimiter = _single_char(self.options, "delimiter", ",")
        self.fields: dict[str, Any] | None = None
        if schema is not None:
            avro = schema.avro
            if not (isinstance(avro, dict) and avro.get("type") == "record"):
                raise SchemaError(
                    "the csv encoding needs a record schema (one field per column)",
                    schema=getattr(schema, "name", None),
                    hint="give a record schema, or no schema at all on an input stream (restriction 15)",
                )
            self.fields = {f["name"]: f["type"] for f in avro["fields"]}
        #: Column names: the schema's fields; on output without a schema, the first record's keys.
        self.names: list[str] | None = list(self.fields) if self.fields is not None else None
        self._convs = self.converters(self.names) if self.names is not None else None
        self._check = validator(schema)

    # -- columns --------------------------------------------------------------------------------------

    def converters(self, names: list[str]) -> list[Callable[[str], Any]]:
        """The cell readers for columns ``names`` (schema types, or :func:`guess` without a schema)."""
        if self.fields is None:
            return [guess] * len(names)
        return [_converter(self.fields[n]) for n in names]

    def check_header(self, header: list[str]) -> None:
        """Raise SchemaError unless ``header`` names exactly the schema's fields (in any order)."""
        if self.names is None:
            return
        if sorted(header) != sorted(self.names) or len(set(header)) != len(header):
            missing = [n for n in self.names if n not in header]
            extra = [h for h in header if h not in self.names]
            detail = []
            if missing:
                detail.append(f"missing {', '.join(missing)}")
            if extra:
                detail.append(f"unexpected {', '.join(extra)}")
            if not detail:
                detail.append("a column is repeated")
            raise SchemaError(
                f"the CSV header does not match the schema: expected columns {', '.join(self.names)}; "
                f"found {', '.join(header)} ({'; '.join(detail)})",
                schema=getattr(self.schema, "name", None),
                hint="fix the header line, or the schema's field names, so they are the same",
            )

    def reader(self, lines: list[str]) -> Any:
        """A csv.reader over ``lines`` with this encoding's dialect."""
        return csv.reader(lines, delimiter=self.delimiter, quotechar=self.quotechar, strict=True)

    # -- rows -> records ------------------------------------------------------------------------------

    def rows_to_records(self, rows: list[list[str]], names: list[str] | None, convs: Any) -> list[Any]:
        """Fast path: every row typed; raises on the first problem (the caller then goes row by row)."""
        if names is None:
            return [[guess(c) for c in row] for row in rows]
        n = len(names)
        if rows and set(map(len, rows)) != {n}:
            raise ValueError("column count")
        if all(c is str for c in convs):
            out = [dict(zip(names, row)) for row in rows]
        else:
            out = [dict(zip(names, [c(v) for c, v in zip(convs, row)])) for row in rows]
        if self._check is not None:
            self._check(out)
        return out

    def row_to_record(self, row: list[str], names: list[str] | None, convs: Any, index: int | None) -> Any:
        """One row typed; raises RecordError (wrong column count) or SchemaError (bad value)."""
        if names is None:
            return [guess(c) for c in row]
        if len(row) != len(names):
            if not row and len(names) == 1:
                row = [""]
            else:
                raise RecordError(
                    f"expected {len(names)} columns ({', '.join(names)}), got {len(row)}",
                    hint="quote cells that contain the delimiter",
                )
        record = {}
        for name, conv, value in zip(names, convs, row):
            try:
                record[name] = conv(value)
            except (ValueError, KeyError, TypeError, msgspec.DecodeError):
                want = _named(self.fields[name]) if self.fields else "a value"
                raise SchemaError(
                    f"cannot read {value!r} as {want}", path=f"$.{name}", value=value, record_index=index
                ) from None
        if self.schema is not None:
            self.schema.validate(record, record_index=index, slot=self.slot)
        return record

    # -- frames ---------------------------------------------------------------------------------------

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        lines = [f.decode("utf-8") for f in frames]
        rows = list(self.reader(lines))
        if len(rows) != len(frames):
            raise ValueError("a frame held more than one row")
        return self.rows_to_records(rows, self.names, self._convs)

    def parse_row(self, frame: bytes) -> list[str]:
        """The cells of one frame (raises RecordError for bad UTF-8 or bad quoting)."""
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"invalid UTF-8 at byte {exc.start}: {exc.reason}") from None
        try:
            rows = list(self.reader([text]))
        except csv.Error as exc:
            raise RecordError(f"bad CSV row: {exc}", hint="check the quoting") from None
        if len(rows) > 1:
            raise RecordError("a frame holds more than one CSV row", hint="check the quoting")
        return rows[0] if rows else []

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        return self.row_to_record(self.parse_row(frame), self.names, self._convs, index)

    def parse_control(self, frame: bytes) -> Control | None:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return parse_utf8_control(text)

    # -- records -> rows ------------------------------------------------------------------------------

    def output_names(self, records: list[Any]) -> list[str] | None:
        """The column names for output: the schema's, else the keys of the first dict record."""
        if self.names is None:
            for record in records:
                if isinstance(record, dict):
                    self.names = [str(k) for k in record]
                    break
        return self.names

    def header(self, lineterminator: str) -> str:
        """The header line (with its terminator), or "" when no names are known yet."""
        if not self.names:
            return ""
        return self.write_rows([self.names], lineterminator)

    def to_row(self, record: Any, index: int | None = None) -> list[Any]:
        """The cells of one record; raises RecordError/SchemaError."""
        if self.schema is not None:
            self.schema.validate(record, record_index=index, slot=self.slot)
        if isinstance(record, dict):
            names = self.output_names([record]) or []
            missing = [n for n in names if n not in record]
            if missing:
                raise RecordError(
                    f"the record has no {', '.join(missing)} (columns: {', '.join(names)})",
                    hint="give every column a value (None for an empty cell)",
                )
            return [_cell(record[n]) for n in names]
        if isinstance(record, (list, tuple)):
            return [_cell(v) for v in record]
        raise RecordError(
            f"a CSV row is a dict or a list, not {type(record).__name__}",
            hint="return a dict keyed by column name from the model",
        )

    def to_rows(self, records: list[Any]) -> list[list[Any]]:
        """Fast path: the cells of every record; raises on the first problem."""
        if self._check is not None:
            self._check(records)
        names = self.output_names(records)
        if names is None:
            return [[_cell(v) for v in r] for r in records]
        return [[_cell(r[n]) for n in names] for r in records]

    def write_rows(self, rows: list[list[Any]], lineterminator: str) -> str:
        """CSV text of ``rows``, each ended by ``lineterminator``."""
        out = io.StringIO()
        csv.writer(
            out, delimiter=self.delimiter, quotechar=self.quotechar, lineterminator=lineterminator
        ).writerows(rows)
        return out.getvalue()

    def encode_batch(self, records: list[Any]) -> list[bytes]:
        rows = self.to_rows(records)
        # "\r\n" as terminator makes the csv module quote cells with line breaks; then drop it.
        return [self.write_rows([row], "\r\n")[:-2].encode("utf-8") for row in rows]

    def encode_joined(self, records: list[Any], separator: bytes) -> bytes | None:
        return self.write_rows(self.to_rows(records), separator.decode("utf-8")).encode("utf-8")

    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        return self.write_rows([self.to_row(record, index)], "\r\n")[:-2].encode("utf-8")

    def control_bytes(self, control: Control) -> bytes | None:
        return utf8_control(control).encode("utf-8")
