"""Rich display for notebooks: engines and errors as short HTML blocks, with plain-text twins.

Streams, samples, schemas and models carry their own ``_repr_html_``; this module adds the views
that have no class of their own to live in:

* :func:`engine_html` / :func:`engine_text`: an engine's state, model, slots with their streams and
  counts (records, bytes, rejected) and last error. They use only the Engine interface
  (``inspect()``, ``stats()``), so the local engine and a remote one render alike;
* :func:`error_html` / :func:`error_text`: a :class:`~fastscore_sdk.errors.FastScoreError` (or any
  exception) as one short block: its kind, its message, where (slot, record, line) and the hint.

Nothing shown here contains a secret: engine descriptors are redacted by ``inspect()``, error
messages never hold one (see :mod:`fastscore_sdk.errors`), and stream names that are URL literals
have their password starred.

Examples
--------
>>> import fastscore_sdk as fs
>>> from fastscore_sdk.notebook.display import engine_text, error_text
>>> print(engine_text(fs.Engine()))
Engine 'engine-1': INIT, no model loaded, no streams attached
>>> error_text(fs.EngineError("no stream is attached to slot 3"))
'EngineError: no stream is attached to slot 3'
"""

from __future__ import annotations

import html
import logging
from typing import Any

from ..secrets import redact_url

__all__ = ["engine_html", "engine_rows", "engine_text", "error_html", "error_line", "error_text"]

logger = logging.getLogger(__name__)

#: Background colour of the state badge, by state (FastScore's CLI showed RUNNING in green).
_STATE_COLOURS = {
    "INIT": "#9e9e9e",
    "RUNNING": "#2e7d32",
    "PAUSED": "#f9a825",
    "PIGGING": "#6a1b9a",
    "FINISHING": "#1565c0",
    "FINISHED": "#1565c0",
    "ERROR": "#c62828",
}

_COLUMNS = ("slot", "direction", "stream", "transport", "records", "bytes", "rejected", "eof")


def _state(engine: Any) -> str:
    return str(getattr(engine, "state", "UNKNOWN"))


def engine_rows(engine: Any) -> list[dict[str, Any]]:
    """One dict per attached slot: slot, direction, stream, transport, records, bytes, rejected, eof.

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> eng = fs.Engine(echo_console=False)
    >>> _ = eng.run(fs.Model("id", "def action(x):\\n    yield x\\n"), "inline:1,2", "discard:").wait()
    >>> [(r["slot"], r["direction"], r["records"]) for r in engine_rows(eng)]
    [(0, 'input', 2), (1, 'output', 2)]
    """
    info = engine.inspect()
    streams = info.get("streams") or {}
    try:
        stats = engine.stats()
    except Exception as exc:  # noqa: BLE001 - a view must render even when counters are unavailable
        logger.debug("engine %s: stats unavailable: %s", info.get("name"), exc)
        stats = None
    rows = []
    for key in sorted(streams, key=int):
        slot = int(key)
        entry = streams[key]
        counts: dict[str, Any] = {}
        if stats is not None and slot in stats.index:
            counts = stats.loc[slot].to_dict()
        rejected = int(counts.get("rejected_by_schema", 0) or 0) + int(
            counts.get("rejected_by_encoding", 0) or 0
        )
        rows.append(
            {
                "slot": slot,
                "direction": "input" if slot % 2 == 0 else "output",
                "stream": redact_url(str(entry.get("name", ""))),
                "transport": str(entry.get("transport", "")),
                "records": int(counts.get("records", entry.get("records", 0)) or 0),
                "bytes": int(counts.get("bytes", 0) or 0),
                "rejected": rejected,
                "eof": bool(entry.get("eof", False)),
            }
        )
    return rows


def _model_name(info: dict[str, Any]) -> str | None:
    model = info.get("model")
    return model.get("name") if isinstance(model, dict) else None


def engine_text(engine: Any) -> str:
    """A readable plain-text view of an engine (what a terminal shows instead of the HTML).

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> eng = fs.Engine(echo_console=False)
    >>> out = fs.Stream("out", {"Transport": "discard", "Encoding": "json"})
    >>> _ = eng.run(fs.Model("id", "def action(x):\\n    yield x\\n"), "inline:1,2", out).wait()
    >>> print(engine_text(eng))
    Engine 'engine-1': FINISHED, model 'id'
      slot  direction  stream      transport  records  bytes  rejected  eof
      0     input      inline:1,2  inline     2        2      0         True
      1     output     out         discard    2        2      0         False
    """
    info = engine.inspect()
    name = info.get("name", getattr(engine, "name", "engine"))
    model = _model_name(info)
    rows = engine_rows(engine)
    head = f"Engine {name!r}: {_state(engine)}, " + (f"model {model!r}" if model else "no model loaded")
    if not rows:
        head += ", no streams attached"
    lines = [head]
    if rows:
        table = [list(_COLUMNS)] + [[str(r[c]) for c in _COLUMNS] for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
        for row in table:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    error = getattr(engine, "last_error", None)
    if error is not None:
        lines.append("  last error: " + error_text(error))
    return "\n".join(lines)


def engine_html(engine: Any) -> str:
    """An HTML view of an engine: a state badge, the model, a slot table and the last error.

    Suitable as ``LocalEngine._repr_html_``.

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> "INIT" in engine_html(fs.Engine())
    True
    """
    esc = html.escape
    info = engine.inspect()
    name = str(info.get("name", getattr(engine, "name", "engine")))
    state = _state(engine)
    colour = _STATE_COLOURS.get(state, "#616161")
    model = _model_name(info)
    badge = (
        f'<span style="background:{colour};color:white;padding:1px 6px;border-radius:3px">{esc(state)}</span>'
    )
    parts = [f"<div><b>Engine</b> <code>{esc(name)}</code> {badge} "]
    parts.append(f"model <code>{esc(model)}</code>" if model else "<i>no model loaded</i>")
    rows = engine_rows(engine)
    if rows:
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(str(r[c]))}</td>" for c in _COLUMNS) + "</tr>" for r in rows
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    else:
        parts.append("<p><i>no streams attached</i></p>")
    error = getattr(engine, "last_error", None)
    if error is not None:
        parts.append(error_html(error))
    parts.append("</div>")
    return "".join(parts)


def _where(exc: BaseException) -> list[str]:
    where = []
    for attr in ("stream", "slot", "record_index", "line", "field", "path", "state"):
        value = getattr(exc, attr, None)
        if value not in (None, "", "$"):
            where.append(f"{attr.replace('_', ' ')} {value}")
    return where


def error_line(exc: BaseException) -> str:
    """The first line of an error's message; for several descriptor problems, the first and a count.

    Examples
    --------
    >>> from fastscore_sdk.errors import DescriptorError, Problem
    >>> error_line(DescriptorError(problems=[Problem("FS-D020", "Transport.Type", "unknown type 'x'"),
    ...                                      Problem("FS-D001", "Loop", "REST streams cannot loop")],
    ...                            stream="in"))
    "stream 'in': [FS-D020] Transport.Type: unknown type 'x' (and 1 more problem)"
    """
    problems = getattr(exc, "problems", None) or []
    if len(problems) > 1:
        stream = getattr(exc, "stream", None)
        where = f"stream {stream!r}: " if stream else ""
        more = len(problems) - 1
        first = f"{where}{problems[0]} (and {more} more problem{'s' if more > 1 else ''})"
    else:
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else type(exc).__name__
    return redact_url(first)


def error_text(exc: BaseException) -> str:
    """One line: the error's class and :func:`error_line`.

    Examples
    --------
    >>> from fastscore_sdk.errors import DescriptorError
    >>> error_text(DescriptorError("unknown transport type 'x'", field="Transport.Type"))
    "DescriptorError: [FS-D000] Transport.Type: unknown transport type 'x'"
    """
    return f"{type(exc).__name__}: {error_line(exc)}"


def error_html(exc: BaseException) -> str:
    """A short HTML block for an error: kind, message, where, and every descriptor problem.

    Examples
    --------
    >>> from fastscore_sdk.errors import TransportError
    >>> print(error_html(TransportError("cannot open 'in.jsons'", stream="in", transport="file")))
    <div style="border-left:4px solid #c62828;padding:2px 8px"><b>TransportError</b>: stream &#x27;in&#x27; file transport: cannot open &#x27;in.jsons&#x27;<br><small>stream in</small></div>
    """
    esc = html.escape
    problems = getattr(exc, "problems", None) or []
    if len(problems) > 1:
        rows = "".join(
            f"<tr><td><code>{esc(p.code)}</code></td><td>{esc(p.field)}</td><td>{esc(p.message)}</td>"
            f"<td>{esc(p.fix)}</td></tr>"
            for p in problems
        )
        message = (
            f"{len(problems)} problems<table><thead><tr><th>rule</th><th>field</th><th>problem</th>"
            f"<th>fix</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        message = esc(redact_url(str(exc)))
    where = _where(exc)
    footer = f"<br><small>{esc(', '.join(where))}</small>" if where else ""
    return (
        '<div style="border-left:4px solid #c62828;padding:2px 8px">'
        f"<b>{esc(type(exc).__name__)}</b>: {message}{footer}</div>"
    )
