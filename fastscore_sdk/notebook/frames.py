"""DataFrame in, DataFrame out: streams made from a pandas DataFrame, and streams that collect output.

:func:`from_pandas` turns a DataFrame into an ``inline`` input stream (one JSON record per row in
``Transport.Data``, with a schema inferred from the rows or given), and :func:`collect` makes a
``memory`` output stream whose :meth:`CollectedStream.to_pandas` returns what the model wrote. Together
they take a notebook from a DataFrame through a model and an engine back to a DataFrame, with no
files and no server:

>>> import pandas as pd
>>> import fastscore_sdk as fs
>>> from fastscore_sdk.notebook.frames import collect, from_pandas
>>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
>>> m = fs.Model("double", "def action(r):\\n    yield {'y': r['x'] * 2}\\n")
>>> out = collect("doubled")
>>> fs.Engine().run(m, from_pandas(df, "numbers"), out).wait()
<EngineState.FINISHED: 'FINISHED'>
>>> out.to_pandas()["y"].tolist()
[2.0, 4.0, 6.0]

(The last two lines need the ``memory`` transport registered, which ``fastscore_sdk`` does.)

Conversions from the DataFrame: the index is left out (``df.reset_index()`` keeps it), column names
become strings, ``NaN``/``None``/``NA`` become JSON null (an inferred field is then nullable),
datetime columns become Avro ``timestamp-millis`` (epoch milliseconds in the JSON), numpy scalars
become Python numbers.
"""

from __future__ import annotations

import html
import itertools
import logging
import math
import re
import threading
from typing import TYPE_CHECKING, Any

import msgspec

from .. import codec, descriptor
from ..codec.base import Control
from ..errors import SchemaError
from ..schema import Schema, _avro_name, records_from_frame
from ..stream import Stream
from ..transports import memory

if TYPE_CHECKING:
    import pandas as pd

    from ..errors import Rejected
    from ..library import Library

__all__ = ["CollectedStream", "FrameStream", "collect", "from_pandas"]

logger = logging.getLogger(__name__)

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

#: Rows shown by the HTML view of a collected stream.
PREVIEW_ROWS = 5

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _next_name(prefix: str) -> str:
    with _counter_lock:
        return f"{prefix}-{next(_counter)}"


class FrameStream(Stream):
    """An ``inline`` input stream built from a DataFrame by :func:`from_pandas`.

    A :class:`~fastscore_sdk.stream.Stream` in every way (verify, sample, read, attach to an engine);
    only its display is shorter, since the descriptor holds every row.

    Attributes
    ----------
    rows : int
        How many records the stream carries.
    """

    rows: int = 0

    def _interpret(self, *, slot: int | None, reveal: bool) -> dict[str, Any]:
        # The rows are data, not configuration: checking and secret-resolving every one of them
        # on each verify and open would cost more than reading them (0.3 s per 100,000 rows).
        # The descriptor is interpreted without them and they are put back, as they are.
        transport = self.desc.get("Transport")
        rows = transport.get("Data") if isinstance(transport, dict) else None
        if not isinstance(rows, list):
            return super()._interpret(slot=slot, reveal=reveal)
        light = {**self.desc, "Transport": {**transport, "Data": []}}
        form = descriptor.interpret(
            light,
            slot=slot,
            resolve_schema=self._resolve_schema,
            reveal_secrets=reveal,
            check_secrets=True,
            stream=self.name,
        )
        form["transport"]["data"] = list(rows)
        return form

    def __repr__(self) -> str:
        schema = self.desc.get("Schema")
        sname = schema.get("name") if isinstance(schema, dict) else schema
        return f"<FrameStream {self.name!r}: {self.rows} records from a DataFrame, schema {sname!r}>"

    def _repr_html_(self) -> str:
        schema = self.schema
        body = schema._repr_html_() if schema is not None else ""
        return (
            f"<div><b>Stream</b> <code>{html.escape(self.name)}</code>: inline, {self.rows} records "
            f"from a DataFrame, json encoding{body}</div>"
        )


def from_pandas(
    df: pd.DataFrame | pd.Series,
    name: str | None = None,
    schema: Schema | dict[str, Any] | list[Any] | str | None = None,
    *,
    library: Library | None = None,
) -> FrameStream:
    """An inline input stream carrying the rows of ``df`` as JSON records.

    Parameters
    ----------
    df
        The rows (a Series gives one record per value).
    name
        The stream's name, also the name of an inferred schema (default ``frame-N``).
    schema
        The records' schema: a :class:`~fastscore_sdk.schema.Schema`, Avro (a dict, a list, JSON
        text or a primitive name), or a library schema name. Default: inferred from the rows with
        :meth:`Schema.infer <fastscore_sdk.schema.Schema.infer>`.
    library
        Where a schema name resolves (default: the session library).

    Returns
    -------
    FrameStream
        An input stream (use it on an even slot), not looping.

    Raises
    ------
    SchemaError
        A row does not match the given schema (the error names the row and the field), or the frame
        is empty and no schema was given.

    Examples
    --------
    >>> import pandas as pd
    >>> s = from_pandas(pd.DataFrame({"x": [1.5, 2.5], "label": ["a", None]}), "points")
    >>> s.schema.avro["fields"]
    [{'name': 'x', 'type': 'double'}, {'name': 'label', 'type': ['null', 'string'], 'default': None}]
    >>> s.sample().to_pandas()
         x label
    0  1.5     a
    1  2.5   NaN
    """
    import pandas as pd

    if not isinstance(df, (pd.DataFrame, pd.Series)):
        raise TypeError(f"from_pandas needs a pandas DataFrame or Series, not {type(df).__name__}")
    name = name or _next_name("frame")
    given = _as_schema(schema, name, library)
    if isinstance(df, pd.DataFrame):
        frame = df.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
        if len(set(frame.columns)) != len(frame.columns):
            raise ValueError(f"stream {name!r}: the DataFrame has duplicate column names; rename them first")
        if given is not None and given.is_record:
            # Columns the schema does not name are left out, as Schema.to_pandas leaves out extra keys.
            frame = frame[[c for c in frame.columns if c in set(given.fields)]]
        records = records_from_frame(frame, given)
        _nan_to_none(records, [c for c in frame.columns if frame[c].dtype.kind == "f"])
        datetimes = [c for c in frame.columns if frame[c].dtype.kind == "M"]
    else:
        frame = df
        records = records_from_frame(df)
        if df.dtype.kind == "f":
            records = [None if v is not None and v != v else v for v in records]
        datetimes = [None] if df.dtype.kind == "M" else []
    if given is None:
        if not records:
            raise SchemaError(
                f"stream {name!r}: cannot infer a schema from an empty DataFrame",
                hint="pass schema= (a Schema, Avro, or a library schema name)",
            )
        if isinstance(frame, pd.DataFrame):
            given = _infer_frame_schema(frame, records, name)
        else:
            given = Schema.infer(records, name=name)
    for i, rec in enumerate(records):
        if not given.is_valid(rec):
            try:
                given.validate(rec, record_index=i)
            except SchemaError as exc:
                raise SchemaError(
                    f"stream {name!r}, row {i}: {exc.reason}",
                    path=exc.path,
                    value=exc.value,
                    record_index=i,
                    schema=given.name,
                    hint='fix the data (e.g. fillna) or the schema (a nullable field is ["null", T])',
                ) from None
    if datetimes:
        _datetimes_to_millis(records, datetimes)
    encode = msgspec.json.Encoder().encode
    data = [encode(r).decode("utf-8") for r in records]
    desc = {
        "Transport": {"Type": "inline", "Data": data},
        "Loop": False,
        "Encoding": "json",
        "Schema": given.avro,
    }
    stream = FrameStream(name, {"Transport": "discard"}, library=library)
    # The descriptor was built here and is referenced nowhere else: the deep copy Stream makes of a
    # caller's dict would only cost time on a large frame.
    stream.desc = desc
    stream.rows = len(data)
    return stream


_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _column_type(col: pd.Series) -> Any:
    """The Avro type :meth:`Schema.infer` would give a column, from its dtype; None to ask it."""
    import pandas as pd

    dtype = col.dtype
    kind = dtype.kind
    values = col.dropna()
    if values.empty:
        return None
    if kind == "f":
        avro: Any = "double"
    elif kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if _INT32[0] <= lo and hi <= _INT32[1]:
            avro = "int"
        elif _INT64[0] <= lo and hi <= _INT64[1]:
            avro = "long"
        else:
            return None
    elif kind == "b":
        avro = "boolean"
    elif kind == "M":
        avro = {"type": "long", "logicalType": "timestamp-millis"}
    elif isinstance(dtype, pd.StringDtype):
        avro = "string"
    else:
        return None  # objects, categories, lists, dicts: look at the values
    return ["null", avro] if len(values) < len(col) else avro


def _infer_frame_schema(frame: pd.DataFrame, records: list[dict[str, Any]], name: str) -> Schema:
    """``Schema.infer(records, name)``, from column dtypes where they decide the type.

    The result is the same; typed columns (numbers, booleans, datetimes, pandas strings) are typed in
    one pass over the column, and only the other columns are inferred value by value.
    """
    if len(frame.columns) > 100 or not all(_AVRO_NAME.fullmatch(c) for c in frame.columns):
        return Schema.infer(records, name=name)  # a map, as Schema.infer decides for such keys
    types = {c: _column_type(frame[c]) for c in frame.columns}
    rest = [c for c, t in types.items() if t is None]
    inferred: dict[str, dict[str, Any]] = {}
    if rest:
        partial = Schema.infer([{c: r.get(c) for c in rest} for r in records], name=name).avro
        inferred = {f["name"]: f for f in partial["fields"]}
    fields = []
    for c, avro in types.items():
        if avro is None:
            fields.append(inferred[c])
        elif isinstance(avro, list):
            fields.append({"name": c, "type": avro, "default": None})
        else:
            fields.append({"name": c, "type": avro})
    return Schema(name, {"type": "record", "name": _avro_name(name), "fields": fields})


def _as_schema(schema: Any, name: str, library: Library | None) -> Schema | None:
    if schema is None or isinstance(schema, Schema):
        return schema
    text = schema.strip() if isinstance(schema, str) else None
    if text and text[:1] not in ("{", "[", '"') and text not in _PRIMITIVES:
        from ..library import Library

        return (library or Library.default()).schemas[text]
    return Schema(name, schema, library=library)


def _nan_to_none(records: list[dict[str, Any]], columns: list[str]) -> None:
    """JSON has no NaN: a missing float becomes null (and an inferred field becomes nullable)."""
    if not columns:
        return
    isnan = math.isnan
    for rec in records:
        for c in columns:
            v = rec.get(c)
            if type(v) is float and isnan(v):
                rec[c] = None


def _datetimes_to_millis(records: list[Any], columns: list[str | None]) -> None:
    """Avro's JSON form of ``timestamp-millis`` is the epoch milliseconds."""

    def millis(v: Any) -> Any:
        value = getattr(v, "value", None)  # a pandas Timestamp: nanoseconds since the epoch, UTC
        return v if value is None else value // 1_000_000

    if columns == [None]:
        records[:] = [millis(v) for v in records]
        return
    for rec in records:
        for c in columns:
            rec[c] = millis(rec[c])


class CollectedStream(Stream):
    """A ``memory`` output stream that keeps what was written to it, made by :func:`collect`.

    Attach it to an output slot; after the run, :attr:`records` and :meth:`to_pandas` give what the
    model wrote (decoded with the stream's schema, or the model's schema for the slot). Each run
    replaces the previous collection.

    Attributes
    ----------
    key : str
        The name the collection is kept under in this process.
    """

    def __init__(
        self,
        name: str,
        desc: dict[str, Any] | str | None = None,
        *,
        library: Library | None = None,
    ) -> None:
        super().__init__(name, desc, library=library)
        self._inherited: Schema | None = None

    def open_writer(self, *, errors: str = "reject", slot: int | None = None, inherit: Schema | None = None):
        # The engine passes the model's schema for the slot; remember it to decode with it later.
        self._inherited = inherit
        return super().open_writer(errors=errors, slot=slot, inherit=inherit)

    @property
    def key(self) -> str:
        transport = self.desc.get("Transport")
        name = transport.get("Name") if isinstance(transport, dict) else None
        return name if isinstance(name, str) and name else self.name

    @property
    def raw(self) -> list[bytes]:
        """The encoded messages collected so far, in the order written."""
        return memory.collected(self.key)

    @property
    def complete(self) -> bool:
        """True once the writer that collected them was closed normally."""
        return memory.collection(self.key).complete

    def _decode(self) -> tuple[list[Any], list[Rejected], Schema | None]:
        interpreted = self.verify()
        schema = self._schema_of(interpreted, self._inherited)
        encoding = interpreted.get("encoding")
        # The writer checked every record against the schema; JSON needs no schema to decode, and
        # decoding without one is faster. Binary encodings need it.
        decode_with = None if encoding in ("json", "utf-8", None) else schema
        dec = codec.decoder(interpreted.get("envelope"), encoding, decode_with, stream=self.name)
        out = dec.feed_messages(self.raw)
        out.extend(dec.finish())
        if Control in set(map(type, out)):
            out = [r for r in out if type(r) is not Control]
        return out, list(dec.rejected), schema

    @property
    def records(self) -> list[Any]:
        """The collected records, decoded (control records left out)."""
        return self._decode()[0]

    @property
    def rejected(self) -> list[Rejected]:
        """Collected messages that could not be decoded or did not match the schema."""
        return self._decode()[1]

    def to_pandas(self) -> pd.DataFrame:
        """The collected records as a DataFrame (dtypes from the schema when there is one).

        Records that are not objects become one column named ``value``.
        """
        import pandas as pd

        records, _, schema = self._decode()
        if schema is not None:
            return schema.to_pandas(records, column="value")
        if records and set(map(type, records)) == {dict}:
            return pd.DataFrame(records)
        return pd.DataFrame({"value": records})

    def clear(self) -> None:
        """Forget what was collected."""
        memory.clear(self.key)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "open or not run"
        return f"<CollectedStream {self.name!r}: {len(self.raw)} records collected ({state})>"

    def _repr_html_(self) -> str:
        frame = self.to_pandas()
        head = frame.head(PREVIEW_ROWS)._repr_html_() if len(frame) else ""
        more = f", first {PREVIEW_ROWS} shown" if len(frame) > PREVIEW_ROWS else ""
        return (
            f"<div><b>Stream</b> <code>{html.escape(self.name)}</code>: memory, {len(frame)} records "
            f"collected{more}{head}</div>"
        )


def collect(
    name: str | None = None,
    *,
    encoding: str = "json",
    schema: Schema | dict[str, Any] | list[Any] | str | None = None,
    library: Library | None = None,
) -> CollectedStream:
    """An output stream that collects what a model writes, for :meth:`CollectedStream.to_pandas`.

    Parameters
    ----------
    name
        The stream's name and the collection's key (default ``collected-N``). Two streams of one
        name share the collection: the latest run wins.
    encoding
        How records are encoded on the way (``json`` by default; any encoding works).
    schema
        The output schema (a Schema, Avro, or a library schema name). Default: none of its own, so
        the model's schema for the slot applies (``$inherit``).
    library
        Where a schema name resolves.

    Returns
    -------
    CollectedStream
        An output stream (use it on an odd slot).

    Examples
    --------
    >>> collect("scores").desc
    {'Transport': {'Type': 'memory', 'Name': 'scores'}, 'Encoding': 'json'}
    """
    name = name or _next_name("collected")
    desc: dict[str, Any] = {"Transport": {"Type": "memory", "Name": name}, "Encoding": encoding}
    given = _as_schema(schema, name, library)
    if given is not None:
        desc["Schema"] = given.avro
    return CollectedStream(name, desc, library=library)
