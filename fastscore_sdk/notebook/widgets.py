"""Notebook widgets (ipywidgets), each with a plain-text fallback outside a notebook.

* :class:`EngineMonitor`: a live status view of an engine (state, per-slot counts, rejected records,
  last error), refreshed while it runs: an HTML widget in a notebook, one text line per change on a
  terminal. The progress bar of a run is ``eng.wait(progress=True)`` (tqdm.auto: a widget in a
  notebook, text elsewhere), which ``%fastscore run --wait`` uses.
* :class:`StreamBuilder`: a form for a stream descriptor (transport and its fields, envelope,
  encoding, schema fields); its output is a descriptor that verifies, a ``%%stream`` cell, or a
  :class:`~fastscore_sdk.stream.Stream`. Driven by keyword arguments it needs no widgets at all.

Examples
--------
>>> b = StreamBuilder("prices", transport="file", fields={"Path": "prices.jsons"},
...                   schema_fields=[("ticker", "string"), ("price", "double")])
>>> print(b.cell())
%%stream prices
{
  "Transport": {
    "Type": "file",
    "Path": "prices.jsons"
  },
  "Encoding": "json",
  "Schema": {
    "type": "record",
    "name": "prices",
    "fields": [
      {
        "name": "ticker",
        "type": "string"
      },
      {
        "name": "price",
        "type": "double"
      }
    ]
  }
}
"""

from __future__ import annotations

import codecs
import html
import json
import logging
import re
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from ..descriptor.fields import ENVELOPES, TRANSPORT_FIELDS, TRANSPORT_TYPES
from ..descriptor.traits import TRAITS
from ..errors import DescriptorError, FastScoreError, SchemaError
from ..stream import Stream
from .display import engine_html, engine_rows, engine_text, error_line

__all__ = ["EngineMonitor", "StreamBuilder", "in_notebook"]

logger = logging.getLogger(__name__)


def in_notebook() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed (where a widget can show).

    Examples
    --------
    >>> in_notebook()
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


# ------------------------------------------------------------------------------------ engine monitor


class EngineMonitor:
    """A live view of an engine: state, per-slot records and bytes, rejected records, last error.

    Parameters
    ----------
    engine
        Any engine (local or remote): the view uses ``state``, ``inspect()``, ``stats()`` and
        ``last_error``.
    interval
        Seconds between refreshes while watching.
    file
        Where the text view writes outside a notebook (default: ``sys.stderr``, as progress bars do).

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> eng = fs.Engine(echo_console=False)
    >>> out = fs.Stream("out", {"Transport": "discard", "Encoding": "json"})
    >>> mon = EngineMonitor(eng)
    >>> _ = eng.run(fs.Model("id", "def action(x):\\n    yield x\\n"), "inline:1,2,3", out)
    >>> _ = mon.watch(file=None).wait(10)
    >>> mon.summary()
    'engine-1: FINISHED, in 3, out 3, rejected 0'
    """

    def __init__(self, engine: Any, *, interval: float = 0.5, file: TextIO | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.file = file
        self.widget: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last = ""

    # -- renderings --------------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: state, records in and out, rejected records."""
        rows = engine_rows(self.engine)
        done_in = sum(r["records"] for r in rows if r["direction"] == "input")
        done_out = sum(r["records"] for r in rows if r["direction"] == "output")
        rejected = sum(r["rejected"] for r in rows)
        line = f"{self.engine.name}: {self.engine.state}, in {done_in}, out {done_out}, rejected {rejected}"
        error = getattr(self.engine, "last_error", None)
        if error is not None:
            line += f", error: {error_line(error)}"
        return line

    def text(self) -> str:
        """The full text view (what :func:`~fastscore_sdk.notebook.display.engine_text` gives)."""
        return engine_text(self.engine)

    def html(self) -> str:
        return engine_html(self.engine)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return self.html()

    # -- watching ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the engine is FINISHED or in ERROR."""
        return str(self.engine.state) in ("FINISHED", "ERROR")

    def refresh(self) -> None:
        """Render once: update the widget, or write the summary line when it changed."""
        if self.widget is not None:
            self.widget.value = self.html()
            return
        line = self.summary()
        if line != self._last:
            self._last = line
            if self.file is not None:
                self.file.write(line + "\n")
                self.file.flush()

    def watch(self, *, widget: bool | None = None, file: TextIO | str | None = "stderr") -> EngineMonitor:
        """Start refreshing in the background until the run ends (or :meth:`stop`); returns at once.

        Parameters
        ----------
        widget
            Show an ipywidgets HTML view (default: when running in a notebook).
        file
            For the text view: where summary lines go (default ``sys.stderr``; ``None``: nowhere,
            read :meth:`summary` yourself).
        """
        if widget is None:
            widget = in_notebook()
        if widget:
            import ipywidgets

            self.widget = ipywidgets.HTML(value=self.html())
            _display(self.widget)
        else:
            self.file = sys.stderr if file == "stderr" else file  # type: ignore[assignment]
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"{self.engine.name}-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            finished = self.done
            try:
                self.refresh()
            except FastScoreError as exc:  # a remote engine that went away: say so and stop
                logger.warning("engine monitor stopped: %s", exc)
                return
            if finished:
                if self.widget is None and self.file is not None:
                    self.file.write(self.text() + "\n")
                return
            self._stop.wait(self.interval)

    def wait(self, timeout: float | None = None) -> EngineMonitor:
        """Block until the watched run ended (or ``timeout`` seconds)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def stop(self) -> None:
        """Stop refreshing (the engine keeps running)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# ------------------------------------------------------------------------------------ stream builder

#: Transport fields whose form text is a whole number.
_INT_FIELDS = frozenset({"Port", "Partition", "MaxWaitTime", "Timeout"})
#: ... true/false.
_BOOL_FIELDS = frozenset({"CommitOffset", "Chunked", "IntegrityChecks"})
#: ... a list: one item per line (inline Data) or comma-separated; Args are split like a shell does.
_LIST_FIELDS = frozenset({"Data", "OutputFields", "Args"})

#: Schema field types offered by the form; ``?`` makes a field nullable (``["null", T]``, default null).
SCHEMA_TYPES = ("double", "float", "int", "long", "string", "boolean", "bytes")

ENCODING_CHOICES = ("json", "utf-8", "csv", "msgpack", "avro-binary", "(none)")
ENVELOPE_CHOICES = ("(default)", "(none)", *ENVELOPES)


def _transport_choices() -> list[str]:
    """Transport types the form offers: every runnable type, in the documentation's order."""
    return [written for kind, written in TRANSPORT_TYPES.items() if kind in TRAITS and TRAITS[kind].supported]


def _convert(field: str, text: str) -> Any:
    text = text.strip()
    if field in _INT_FIELDS:
        try:
            return int(text)
        except ValueError:
            return text  # left as written: verify names the field and says what it expects
    if field in _BOOL_FIELDS:
        low = text.lower()
        return True if low in ("true", "yes", "1") else False if low in ("false", "no", "0") else text
    if field == "Data":
        return [line for line in text.splitlines() if line.strip()]
    if field == "Args":
        return shlex.split(text)
    if field == "OutputFields":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _avro_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text) or "record"
    return name if not name[0].isdigit() else f"_{name}"


class StreamBuilder:
    """Build a stream descriptor from a form (or from keyword arguments, without widgets).

    Parameters
    ----------
    name
        The stream's name (the ``%%stream NAME`` of the cell).
    transport
        The transport type (``file``, ``Kafka``, ``REST``, ...; any case).
    fields
        The transport's fields as text, by their written names (``{"Path": "in.jsons"}``); numbers,
        booleans and lists are converted (``Port`` ``"9092"`` -> 9092, inline ``Data`` one item per line).
    envelope
        ``None`` for the transport's default, ``"(none)"`` for no envelope, or an envelope type;
        ``separator``/``size`` are its options.
    encoding
        ``json`` (default), ``utf-8``, ``csv``, ``msgpack``, ``avro-binary`` or ``"(none)"`` (raw bytes).
    schema_fields
        ``[(name, type), ...]`` for an inline record schema; a type ending in ``?`` is nullable.
    schema_ref
        A library schema name instead (``{"$ref": name}``).
    loop
        ``Loop`` (None: the default).

    Examples
    --------
    >>> b = StreamBuilder("ticks", transport="Kafka", fields={"BootstrapServers": "127.0.0.1:9092",
    ...                                                       "Topic": "ticks"})
    >>> b.descriptor()["Transport"]
    {'Type': 'Kafka', 'BootstrapServers': '127.0.0.1:9092', 'Topic': 'ticks'}
    >>> b.problems()
    []
    """

    def __init__(
        self,
        name: str = "stream",
        *,
        transport: str = "file",
        fields: dict[str, str] | None = None,
        envelope: str | None = None,
        separator: str = "",
        size: int | str | None = None,
        encoding: str = "json",
        schema_fields: Iterable[tuple[str, str]] = (),
        schema_ref: str = "",
        loop: bool | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.fields: dict[str, str] = dict(fields or {})
        self.envelope = envelope
        self.separator = separator
        self.size = size
        self.encoding = encoding
        self.schema_fields: list[tuple[str, str]] = list(schema_fields)
        self.schema_ref = schema_ref
        self.loop = loop
        self._widget: Any = None
        self._controls: dict[str, Any] = {}
        self._on_change: list[Callable[[StreamBuilder], None]] = []

    # -- output ------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """The transport type in its canonical written spelling (``Kafka``, ``REST``, ``file``)."""
        low = self.transport.strip().lower()
        return TRANSPORT_TYPES.get(low, self.transport.strip())

    def transport_fields(self) -> tuple[str, ...]:
        """The written field names of the chosen transport."""
        return tuple(TRANSPORT_FIELDS.get(self.kind.lower(), ()))

    def schema(self) -> Any:
        """The ``Schema`` section: ``{"$ref": name}``, an inline record, or None."""
        if self.schema_ref.strip():
            return {"$ref": self.schema_ref.strip()}
        rows = [(n.strip(), t.strip()) for n, t in self.schema_fields if n.strip()]
        if not rows:
            return None
        avro_fields = []
        for fname, ftype in rows:
            if ftype.endswith("?"):
                avro_fields.append({"name": fname, "type": ["null", ftype[:-1]], "default": None})
            else:
                avro_fields.append({"name": fname, "type": ftype})
        return {"type": "record", "name": _avro_name(self.name), "fields": avro_fields}

    def descriptor(self) -> dict[str, Any]:
        """The descriptor the form describes (as written: capitalised fields, canonical names)."""
        transport: dict[str, Any] = {"Type": self.kind}
        for field in self.transport_fields():
            text = self.fields.get(field, "")
            if isinstance(text, str) and text.strip():
                transport[field] = _convert(field, text)
        desc: dict[str, Any] = {"Transport": transport}
        if self.loop is not None:
            desc["Loop"] = bool(self.loop)
        if self.envelope == "(none)":
            desc["Envelope"] = None
        elif self.envelope not in (None, "", "(default)"):
            env: dict[str, Any] = {"Type": self.envelope}
            if self.envelope in ("delimited", "delimited-csv") and self.separator:
                # The form shows escapes (\n, \r\n) as typed; the descriptor holds the characters.
                env["Separator"] = codecs.decode(self.separator, "unicode_escape")
            if self.envelope == "fixed" and self.size not in (None, ""):
                env["Size"] = _convert("Port", str(self.size))
            desc["Envelope"] = env if len(env) > 1 else self.envelope
        desc["Encoding"] = None if self.encoding == "(none)" else self.encoding
        schema = self.schema()
        if schema is not None:
            desc["Schema"] = schema
        return desc

    def problems(self) -> list[str]:
        """What is wrong with the descriptor (empty when it verifies), one line each."""
        try:
            Stream(self.name, self.descriptor()).verify()
        except DescriptorError as exc:
            return [str(p) for p in exc.problems]
        except (SchemaError, FastScoreError) as exc:
            return [error_line(exc)]
        return []

    def cell(self) -> str:
        """A ``%%stream`` cell holding the descriptor."""
        return f"%%stream {self.name}\n{json.dumps(self.descriptor(), indent=2, ensure_ascii=False)}"

    def stream(self) -> Stream:
        """The :class:`~fastscore_sdk.stream.Stream` (verified; raises DescriptorError otherwise)."""
        s = Stream(self.name, self.descriptor())
        s.verify()
        return s

    def __repr__(self) -> str:
        problems = self.problems()
        text = self.cell()
        if problems:
            text += "\n# problems:\n" + "\n".join(f"#   {p}" for p in problems)
        return text

    def preview_html(self) -> str:
        """The descriptor as HTML, with its problems underneath (what the form's preview shows)."""
        body = html.escape(json.dumps(self.descriptor(), indent=2, ensure_ascii=False))
        problems = self.problems()
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            status = f'<p style="color:#c62828">Problems:</p><ul>{items}</ul>'
        else:
            status = '<p style="color:#2e7d32">The descriptor verifies.</p>'
        return f"<pre>{body}</pre>{status}"

    # -- widget ------------------------------------------------------------------------------------
    @property
    def widget(self) -> Any:
        """The ipywidgets form (built on first use)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    @property
    def controls(self) -> dict[str, Any]:
        """The form's widgets by name: ``name``, ``transport``, ``field:<Field>``, ``envelope``,
        ``separator``, ``size``, ``encoding``, ``schema_ref``, ``schema_fields`` (a Textarea, one
        ``name: type`` a line), ``preview``, ``insert``, ``save``."""
        _ = self.widget
        return self._controls

    def _build(self) -> Any:
        import ipywidgets as w

        c = self._controls
        c["name"] = w.Text(value=self.name, description="Name")
        choices = _transport_choices()
        if self.kind not in choices:
            choices.append(self.kind)
        c["transport"] = w.Dropdown(options=choices, value=self.kind, description="Transport")
        c["fields_box"] = w.VBox()
        c["envelope"] = w.Dropdown(
            options=ENVELOPE_CHOICES, value=self.envelope or "(default)", description="Envelope"
        )
        c["separator"] = w.Text(value=self.separator, description="Separator", placeholder="\\n")
        c["size"] = w.Text(value="" if self.size is None else str(self.size), description="Size")
        enc = self.encoding if self.encoding in ENCODING_CHOICES else "json"
        c["encoding"] = w.Dropdown(options=ENCODING_CHOICES, value=enc, description="Encoding")
        c["schema_ref"] = w.Text(value=self.schema_ref, description="Schema $ref", placeholder="library name")
        c["schema_fields"] = w.Textarea(
            value="\n".join(f"{n}: {t}" for n, t in self.schema_fields),
            description="Fields",
            placeholder="one 'name: type' a line; types: "
            + ", ".join(SCHEMA_TYPES)
            + " (add ? for nullable)",
        )
        c["preview"] = w.HTML()
        c["insert"] = w.Button(description="Insert %%stream cell", tooltip="adds the cell below this one")
        c["save"] = w.Button(description="Save to library", tooltip="Library.default().streams[name] = ...")
        c["status"] = w.HTML()

        self._make_field_controls()
        for key in ("name", "envelope", "separator", "size", "encoding", "schema_ref", "schema_fields"):
            c[key].observe(self._from_form, names="value")
        c["transport"].observe(self._transport_changed, names="value")
        c["insert"].on_click(lambda _: self.insert_cell())
        c["save"].on_click(lambda _: self.save())
        self._refresh()
        return w.VBox(
            [
                c["name"],
                c["transport"],
                c["fields_box"],
                w.HBox([c["envelope"], c["separator"], c["size"]]),
                c["encoding"],
                c["schema_ref"],
                c["schema_fields"],
                c["preview"],
                w.HBox([c["insert"], c["save"]]),
                c["status"],
            ]
        )

    def _make_field_controls(self) -> None:
        import ipywidgets as w

        c = self._controls
        for key in [k for k in c if k.startswith("field:")]:
            del c[key]
        boxes = []
        for field in self.transport_fields():
            text = w.Textarea if field == "Data" else w.Text
            control = text(value=str(self.fields.get(field, "")), description=field)
            control.observe(self._from_form, names="value")
            c[f"field:{field}"] = control
            boxes.append(control)
        c["fields_box"].children = boxes

    def _transport_changed(self, change: Any) -> None:
        self.transport = change["new"]
        self._make_field_controls()
        self._refresh()

    def _from_form(self, change: Any = None) -> None:
        c = self._controls
        self.name = c["name"].value.strip() or "stream"
        for key, control in c.items():
            if key.startswith("field:"):
                self.fields[key[6:]] = control.value
        self.envelope = c["envelope"].value
        self.separator = c["separator"].value
        self.size = c["size"].value
        self.encoding = c["encoding"].value
        self.schema_ref = c["schema_ref"].value
        rows = []
        for line in c["schema_fields"].value.splitlines():
            if line.strip():
                fname, _, ftype = line.partition(":")
                rows.append((fname.strip(), ftype.strip() or "string"))
        self.schema_fields = rows
        self._refresh()

    def _refresh(self) -> None:
        c = self._controls
        c["separator"].layout.display = "" if self.envelope in ("delimited", "delimited-csv") else "none"
        c["size"].layout.display = "" if self.envelope == "fixed" else "none"
        c["preview"].value = self.preview_html()
        for callback in self._on_change:
            callback(self)

    def on_change(self, callback: Callable[[StreamBuilder], None]) -> None:
        """Call ``callback(builder)`` after every change made through the form."""
        self._on_change.append(callback)

    def insert_cell(self) -> str:
        """Put the ``%%stream`` cell in the notebook, below the current cell; returns its text."""
        text = self.cell()
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.set_next_input(text, replace=False)
        return text

    def save(self) -> Stream | None:
        """Verify the stream and store it in the session library; the form's status line says how it went."""
        from ..library import Library

        try:
            s = self.stream()
            Library.default().streams[self.name] = s
        except FastScoreError as exc:
            self._status(f'<span style="color:#c62828">{html.escape(error_line(exc))}</span>')
            return None
        self._status(f"saved stream <code>{html.escape(self.name)}</code> at {time.strftime('%H:%M:%S')}")
        return s

    def _status(self, text: str) -> None:
        if "status" in self._controls:
            self._controls["status"].value = text

    def _ipython_display_(self) -> None:
        if in_notebook():
            _display(self.widget)
        else:
            _display(_Text(repr(self)))


class _Text:
    """Shows text as itself (no quotes) through IPython's display."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text
