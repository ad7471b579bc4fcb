"""``Model``: a FastScore model's source, smart comments, schemas and attachments, scored in-process.

Examples
--------
>>> from fastscore_sdk.model import Model
>>> boxer = Model("boxer", '''
... # fastscore.schema.0: double
... def action(x):
...     yield [x]
... ''')
>>> boxer.score([1.5, 2.5])
[[1.5], [2.5]]
"""

from __future__ import annotations

import html
import json
import linecache
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, Rejected, SchemaError
from .annotations import Annotations, SlotInfo, parse_annotations
from .runner import (
    ARCHIVE_SUFFIXES,
    PYTHON_TYPES,
    archive_members,
    check_imports,
    compile_source,
    member_modules,
)

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["Mismatch", "Model", "ValidationReport"]

logger = logging.getLogger("fastscore_sdk.model")

AVRO_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")

# Model types of reference §2.1, with the MIME suffix each was sent under.
MODEL_TYPES = {
    "python": "python",
    "python3": "python3",
    "r": "r",
    "pfa-json": "pfa+json",
    "pfa-yaml": "pfa-yaml",
    "pfa-pretty": "pfa-pretty",
    "java": "java",
    "c": "c",
    "h2o-java": "h2o-java",
    "octave": "m",
    "jupyter": "jupyter",
    "sas": "sas",
}
EXTENSIONS = {
    ".py3": "python3",
    ".py": "python",
    ".r": "r",
    ".pfa": "pfa-json",
    ".json": "pfa-json",
    ".yaml": "pfa-yaml",
    ".yml": "pfa-yaml",
    ".ppfa": "pfa-pretty",
    ".java": "java",
    ".c": "c",
    ".m": "octave",
    ".ipynb": "jupyter",
}
_MIME_PREFIX = "application/vnd.fastscore.model-"


def _normalise_mtype(mtype: str, name: str) -> str:
    low = str(mtype).strip().lower()
    if low.startswith(_MIME_PREFIX):
        suffix = low[len(_MIME_PREFIX) :]
        for key, mime in MODEL_TYPES.items():
            if mime == suffix:
                return key
    if low in MODEL_TYPES:
        return low
    raise ModelError(
        f"unknown model type {mtype!r}",
        model=name,
        hint=f"use one of {', '.join(MODEL_TYPES)}",
    )


class Model:
    """A FastScore model: source, smart comments, schemas and attachments.

    Smart comments are parsed and the source is compiled at construction, so a bad annotation, an
    unknown schema name or a syntax error is reported at once with its line.

    Parameters
    ----------
    name
        The model's name.
    source
        The model source text.
    mtype
        ``python3`` (default) or ``python`` (run as Python 3); the other types of reference §2.1
        (``r``, ``pfa-json``, ``java``, ...) are parsed but raise NotSupportedError when run.
    schemas
        Schemas by name, consulted before the library: :class:`~fastscore_sdk.schema.Schema` objects,
        or Avro (dict or JSON text) to wrap.
    library
        Where other schema names resolve: a :class:`~fastscore_sdk.library.Library` or a mapping of
        names to schemas. Default: the session library, :meth:`Library.default`.
    attachments
        Archive paths to attach (see :meth:`attach`).
    path
        The file the source came from (set by :meth:`load`): used in tracebacks and to find
        ``NAME.avsc`` schema files beside it.

    Attributes
    ----------
    name, source, mtype
        As given (``mtype`` normalised to lower case).
    annotations : Annotations
        The parsed smart comments, schema names unresolved.
    slots : list of SlotInfo
        The in-use slots, each with its :class:`~fastscore_sdk.schema.Schema` (or None, untyped).
    attachments : list of pathlib.Path
        Attached archives, unpacked into the working directory of every run.
    console : list of str
        Lines the model printed during the last :meth:`score`.
    rejected : list of Rejected
        Records rejected during the last :meth:`score` with ``errors="reject"``.

    Raises
    ------
    ModelError
        A smart comment is malformed, a schema name does not resolve, or the source does not compile.

    Examples
    --------
    >>> m = Model("multiplier", "def action(datum):\\n    yield datum * 5\\n")
    >>> m.score([20])
    [100]
    >>> [(s.slot, s.direction) for s in m.slots]
    [(0, 'input'), (1, 'output')]
    """

    def __init__(
        self,
        name: str,
        source: str,
        mtype: str = "python3",
        *,
        schemas: Mapping[str, Any] | None = None,
        library: Any = None,
        attachments: Sequence[str | os.PathLike[str]] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ModelError(f"model name must be a non-empty string, not {name!r}")
        if not isinstance(source, str):
            raise ModelError(
                f"model source must be text, not {type(source).__name__}",
                model=name,
                hint="read the file first, or use Model.load(path)",
            )
        self._name = name
        self._source = source
        self._mtype = _normalise_mtype(mtype, name)
        self._path = Path(path).resolve() if path is not None else None
        self._schemas_arg: dict[str, Any] = dict(schemas) if schemas else {}
        self._library = library
        self._filename = str(self._path) if self._path is not None else _inline_filename(name, source)
        self.attachments: list[Path] = []
        self.console: list[str] = []
        self.rejected: list[Rejected] = []

        if self._mtype == "python":
            logger.info(
                "model %r: 'python' models were Python 2 in FastScore; this one runs as Python 3", name
            )
        self._annotations = parse_annotations(source, model=name, mtype=self._mtype)
        self._code = (
            compile_source(source, self._filename, model=name) if self._mtype in PYTHON_TYPES else None
        )
        self._slots = [self._resolve(info) for info in self._annotations.slots]
        for archive in attachments or ():
            self.attach(archive)

    # ---------------------------------------------------------------- construction

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        library: Any = None,
        schemas: Mapping[str, Any] | None = None,
        mtype: str | None = None,
        attachments: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Model:
        """Read a model file; its name is the file stem and its type comes from the extension.

        Parameters
        ----------
        path
            ``NAME.py3`` (python3), ``NAME.py`` (python, run as Python 3), or another extension of
            reference §2.1 (``.R``, ``.pfa``, ``.java``, ...: parsed, not runnable yet).
        library, schemas, attachments
            As for :class:`Model`. Schema names not found there resolve to ``NAME.avsc`` beside
            the file.
        mtype
            Overrides the type guessed from the extension.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "echo.py3").write_text("def action(x):\\n    yield x\\n")
        >>> Model.load(d / "echo.py3").score(["abc"])
        ['abc']
        """
        p = Path(path)
        try:
            source = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelError(f"model file {str(p)!r} not found", hint="check the path") from None
        if mtype is None:
            lower = p.name.lower()
            ext = next((e for e in EXTENSIONS if lower.endswith(e)), None)
            if ext is None:
                raise ModelError(
                    f"cannot tell the model type of {p.name!r} from its extension",
                    model=p.stem,
                    hint=f"name it .py3, or pass mtype= (one of {', '.join(MODEL_TYPES)})",
                )
            mtype = EXTENSIONS[ext]
        return cls(
            p.stem,
            source,
            mtype,
            schemas=schemas,
            library=library,
            attachments=attachments,
            path=p,
        )

    def _resolve(self, info: SlotInfo) -> SlotInfo:
        if info.schema is None:
            return info
        return replace(info, schema=self._find_schema(info.schema, info.slot))

    def _find_schema(self, name: str, slot: int) -> Schema:
        from ..schema import Schema

        if name in AVRO_PRIMITIVES:
            return Schema(name, name)
        if name in self._schemas_arg:
            return _as_schema(name, self._schemas_arg[name])
        library = self._library
        if library is None:
            from ..library import Library

            library = Library.default()
        bag = getattr(library, "schemas", library)
        try:
            return _as_schema(name, bag[name])
        except KeyError:
            pass
        if self._path is not None:
            avsc = self._path.parent / f"{name}.avsc"
            if avsc.is_file():
                return Schema.load(avsc, library=library)
        entry = self._annotations.schema_annotation(slot)
        where = f" ({entry.where()})" if entry is not None else ""
        raise ModelError(
            f"schema {name!r} not found{where}",
            model=self._name,
            line=None if entry is None else entry.line,
            hint=f"define it with %%schema {name}, pass schemas={{{name!r}: ...}}, or add {name}.avsc beside "
            "the model",
        )

    def __getstate__(self) -> dict[str, Any]:
        # Code objects and libraries do not pickle; the resolved schemas in the slots do, and the
        # code is compiled again on the other side (for process isolation).
        state = self.__dict__.copy()
        state["_code"] = None
        state["_library"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._mtype in PYTHON_TYPES:
            self._code = compile_source(self._source, self._filename, model=self._name)

    # ---------------------------------------------------------------- attributes

    @property
    def name(self) -> str:
        """The model's name."""
        return self._name

    @property
    def source(self) -> str:
        """The model source text (read-only: make a new Model to change it)."""
        return self._source

    @property
    def mtype(self) -> str:
        """The model type, e.g. ``python3``."""
        return self._mtype

    @property
    def path(self) -> Path | None:
        """The file the model was loaded from, if any."""
        return self._path

    @property
    def annotations(self) -> Annotations:
        """The parsed smart comments."""
        return self._annotations

    @property
    def slots(self) -> list[SlotInfo]:
        """The in-use slots with their schemas resolved."""
        return list(self._slots)

    @property
    def explicit(self) -> bool:
        """True for an explicit (``Slot``-style) model."""
        return self._annotations.explicit

    def schema(self, slot: int) -> Schema | None:
        """The schema of an in-use slot, or None when the slot is untyped.

        Raises
        ------
        ModelError
            The slot is not in use.
        """
        for info in self._slots:
            if info.slot == slot:
                return info.schema
        raise ModelError(
            f"slot {slot} is not in use",
            model=self._name,
            hint=f"in-use slots: {[s.slot for s in self._slots]}",
        )

    def attach(self, path: str | os.PathLike[str]) -> None:
        """Attach an archive (``.tar.gz``, ``.tgz`` or ``.zip``), unpacked into the working directory
        of every run. An attachment of the same file name replaces the earlier one.

        Raises
        ------
        ModelError
            The file is missing, not one of those archive types, unreadable, or has a member that
            would land outside the working directory.

        Examples
        --------
        >>> import io, tarfile, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with tarfile.open(d / "att.tgz", "w:gz") as tar:
        ...     info = tarfile.TarInfo("file.txt"); info.size = 5
        ...     tar.addfile(info, io.BytesIO(b"1234\\n"))
        >>> m = Model("emit", "def action(x):\\n    yield open('file.txt').read()\\n")
        >>> m.attach(d / "att.tgz")
        >>> m.score(["x"])
        ['1234\\n']
        """
        p = Path(path)
        if not p.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise ModelError(
                f"attachment {p.name!r} is not a .tar.gz, .tgz or .zip archive",
                model=self._name,
                hint="pack the files first, e.g. tar czf att.tar.gz FILES...",
            )
        if not p.is_file():
            raise ModelError(f"attachment file {str(p)!r} not found", model=self._name, hint="check the path")
        archive_members(p)  # refuse unsafe archives now, not at the first run
        p = p.resolve()
        self.attachments = [a for a in self.attachments if a.name != p.name] + [p]

    def check_imports(self) -> None:
        """Check that every module the model imports is installed, shipped in an attachment or
        declared with ``# fastscore.module-attached:`` (what an engine does at load).

        Raises
        ------
        ModelError
            ``module 'x' not found (declare it with # fastscore.module-attached: x or install it)``,
            naming the import line.

        Examples
        --------
        >>> Model("m", "import math\\ndef action(x):\\n    yield math.sqrt(x)\\n").check_imports()
        """
        if self._mtype not in PYTHON_TYPES:
            return
        shipped: set[str] = set()
        for archive in self.attachments:
            shipped |= member_modules(archive_members(archive))
        check_imports(
            self._source,
            self._filename,
            model=self._name,
            declared=self._annotations.modules_attached,
            shipped=shipped,
        )

    # ---------------------------------------------------------------- scoring

    def score(
        self,
        inputs: Any,
        slot: int = 0,
        *,
        by_slot: bool = False,
        errors: str = "raise",
        encoding: str | None = None,
        console: Callable[[str], None] | None = None,
    ) -> Any:
        """Run a fresh instance of the model over ``inputs`` and return its outputs.

        ``begin()`` runs first and ``end()`` last (its yields are kept); an explicit model runs top to
        bottom with the inputs behind ``Slot(n)``. Inputs and outputs are checked against the slot
        schemas. Each call has its own namespace and working directory: nothing leaks between calls.

        Parameters
        ----------
        inputs
            A list of records for input ``slot``; a DataFrame (rows become records, or with
            recordsets on the slot, and for explicit models, the frame is one batch); or a dict
            ``{slot: records}`` for several input slots. ``SET`` control items (or
            ``{"$fastscore": "set"}``) split the batches of recordsets slots and explicit models;
            an ``end`` control item ends the input; ``pig`` items are ignored.
        slot
            The input slot a plain list goes to.
        by_slot
            Return ``{output_slot: [outputs]}`` for every in-use output slot instead of slot 1's list.
        errors
            ``"raise"``: a record that fails its schema raises SchemaError (naming the slot and
            index). ``"reject"``: it is skipped and listed in :attr:`rejected`.
        encoding
            ``"json"``: inputs are JSON texts (control records included) and outputs are JSON texts,
            with ``{"$fastscore":"set"}`` after each recordset, as a json stream would carry them.
        console
            Called with each line the model prints; the lines are also kept in :attr:`console`.

        Returns
        -------
        list, DataFrame or dict
            Slot 1's outputs as Python objects (set markers left out); a DataFrame when ``inputs``
            was a DataFrame and recordsets are on for slot 1; a dict with ``by_slot=True``.

        Raises
        ------
        ModelError
            The model raised; the error carries the slot, record index, input and traceback.
        SchemaError
            A record does not match its schema (``errors="raise"``).

        Examples
        --------
        >>> splitter = Model("splitter", '''
        ... # fastscore.schema.$all: array-double
        ... # fastscore.slot.3: in-use
        ... def action(datum):
        ...     yield (1, datum)
        ...     yield (3, datum)
        ... ''', schemas={"array-double": {"type": "array", "items": "double"}})
        >>> splitter.score([[1.0, 2.0]], by_slot=True)
        {1: [[1.0, 2.0]], 3: [[1.0, 2.0]]}
        """
        import pandas as pd

        from ..codec.base import Control
        from .runner import ModelRunner

        if errors not in ("raise", "reject"):
            raise ValueError(f'errors must be "raise" or "reject", not {errors!r}')
        if encoding not in (None, "json"):
            raise ValueError(f'encoding must be None or "json", not {encoding!r}')
        per_slot = self._input_batches(inputs, slot, encoding)
        outputs: dict[int, list[Any]] = {s.slot: [] for s in self._slots if not s.is_input}

        def emit(out_slot: int, items: list[Any]) -> None:
            outputs.setdefault(out_slot, []).extend(items)

        runner = ModelRunner(self, emit=emit, console=console, errors=errors, max_pending=None)
        try:
            runner.start()
            for in_slot in sorted(per_slot):
                seqno = 0
                for batch in per_slot[in_slot]:
                    runner.process(in_slot, batch, seqno=seqno)
                    seqno += len(batch)
            runner.finish()
        finally:
            runner.close()
            self.console = list(runner.console)
            self.rejected = list(runner.rejected)

        if encoding == "json":
            shaped = {s: [_json_text(item) for item in items] for s, items in outputs.items()}
        else:
            shaped = {s: [i for i in items if not isinstance(i, Control)] for s, items in outputs.items()}
            frame_in = isinstance(inputs, pd.DataFrame)
            for s, items in shaped.items():
                info = next((i for i in self._slots if i.slot == s), None)
                if frame_in and info is not None and info.recordsets:
                    shaped[s] = _as_frame(items, info.schema)
        if by_slot:
            return shaped
        return shaped.get(1, [])

    def _input_batches(self, inputs: Any, slot: int, encoding: str | None) -> dict[int, list[Any]]:
        """``{input_slot: [batch, ...]}``: lists of records split at set markers, or DataFrames."""
        import pandas as pd

        if (
            isinstance(inputs, Mapping)
            and inputs
            and all(isinstance(k, int) and not isinstance(k, bool) for k in inputs)
        ):
            given = dict(inputs)
        elif isinstance(inputs, Mapping):
            raise ModelError(
                "score() got a dict; pass a list of records, or {slot: records} for several input slots",
                model=self._name,
                hint="wrap one record in a list: score([record])",
            )
        else:
            given = {slot: inputs}
        in_slots = {s.slot for s in self._slots if s.is_input}
        batches: dict[int, list[Any]] = {}
        for s, data in given.items():
            if s not in in_slots:
                raise ModelError(
                    f"slot {s} is not an input slot of the model",
                    model=self._name,
                    hint=f"its input slots are {sorted(in_slots)}",
                )
            info = next(i for i in self._slots if i.slot == s)
            if isinstance(data, pd.DataFrame):
                # one batch: a recordsets slot or an explicit model gets the frame itself, a
                # per-record slot gets its rows as records (the runner converts)
                batches[s] = [data]
                continue
            if hasattr(data, "tolist") and hasattr(data, "ndim"):  # Series, ndarray: one record per item/row
                data = data.tolist()
            elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
                raise ModelError(
                    f"inputs for slot {s} must be a list of records, not {type(data).__name__}",
                    model=self._name,
                    hint="wrap one record in a list: score([record])",
                )
            batches[s] = _split_batches(list(data), encoding, split=info.recordsets or self.explicit)
        return batches

    def validate(
        self,
        inputs: Any,
        expected: Any,
        *,
        slot: int = 0,
        rel_tol: float = 1e-9,
        abs_tol: float = 0.0,
    ) -> ValidationReport:
        """Score ``inputs`` and compare slot 1's outputs with ``expected``.

        Floats compare within ``rel_tol``/``abs_tol`` (NaN equals NaN); dicts and lists compare deeply
        (a tuple equals a list with the same items); booleans equal only booleans (``True`` is not
        ``1`` on a stream).

        Returns
        -------
        ValidationReport
            Truthy when every output matched; ``.mismatches`` lists ``(index, expected, got)``.

        Examples
        --------
        >>> m = Model("m", "def action(x):\\n    yield x * 0.1\\n")
        >>> bool(m.validate([1, 2, 3], [0.1, 0.2, 0.3]))
        True
        >>> m.validate([1], [0.5])
        ValidationReport: 1 of 1 outputs differ
          #0: expected 0.5, got 0.1
        """
        import pandas as pd

        got = self.score(inputs, slot)
        if isinstance(got, pd.DataFrame):
            got = got.to_dict("records")
        if isinstance(expected, pd.DataFrame):
            expected = expected.to_dict("records")
        elif isinstance(expected, pd.Series):
            expected = expected.tolist()
        got = list(got)
        expected = list(expected)
        mismatches = []
        for i in range(max(len(got), len(expected))):
            exp = expected[i] if i < len(expected) else MISSING
            out = got[i] if i < len(got) else MISSING
            if exp is MISSING or out is MISSING or not _same(exp, out, rel_tol, abs_tol):
                mismatches.append(Mismatch(i, exp, out))
        return ValidationReport(outputs=got, expected=expected, mismatches=mismatches)

    # ---------------------------------------------------------------- display

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for info in self._slots:
            schema = info.schema
            name = "-" if schema is None else (getattr(schema, "name", None) or "(anonymous)")
            rows.append(
                (
                    str(info.slot),
                    info.direction,
                    name,
                    "yes" if info.recordsets else "no",
                    info.action or "-",
                )
            )
        return rows

    def _style(self) -> str:
        return "explicit" if self.explicit else "call-back"

    def __repr__(self) -> str:
        head = f"Model({self._name!r}, {self._mtype}, {self._style()})"
        header = ("slot", "direction", "schema", "recordsets", "action")
        rows = [header, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [head]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        if self.attachments:
            lines.append("  attachments: " + ", ".join(a.name for a in self.attachments))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{h}</th>" for h in ("slot", "direction", "schema", "recordsets", "action"))
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in self._rows())
        extra = ""
        if self.attachments:
            extra = "<p>attachments: " + esc(", ".join(a.name for a in self.attachments)) + "</p>"
        return (
            f"<p><b>Model {esc(self._name)}</b> ({esc(self._mtype)}, {self._style()})</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{extra}"
        )


# --------------------------------------------------------------------------------------------------
# helpers


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""Stands for an output (or expected value) that is not there, in a :class:`Mismatch`."""


@dataclass(frozen=True)
class Mismatch:
    """One output that differs from what was expected (``MISSING`` when one side is absent)."""

    index: int
    expected: Any
    got: Any


@dataclass
class ValidationReport:
    """The result of :meth:`Model.validate`: truthy when every output matched.

    Attributes
    ----------
    outputs
        What the model produced on slot 1.
    expected
        What was expected.
    mismatches
        One :class:`Mismatch` per differing position.
    """

    outputs: list[Any]
    expected: list[Any]
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every output matched."""
        return not self.mismatches

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        total = max(len(self.outputs), len(self.expected))
        if self.ok:
            return f"ValidationReport: all {total} outputs match"
        lines = [f"ValidationReport: {len(self.mismatches)} of {total} outputs differ"]
        for m in self.mismatches[:20]:
            lines.append(f"  #{m.index}: expected {m.expected!r}, got {m.got!r}")
        if len(self.mismatches) > 20:
            lines.append(f"  ... and {len(self.mismatches) - 20} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        if self.ok:
            return f"<p>ValidationReport: all {len(self.outputs)} outputs match</p>"
        rows = "".join(
            f"<tr><td>{m.index}</td><td>{esc(repr(m.expected))}</td><td>{esc(repr(m.got))}</td></tr>"
            for m in self.mismatches
        )
        return (
            f"<p>ValidationReport: {len(self.mismatches)} outputs differ</p>"
            f"<table><thead><tr><th>index</th><th>expected</th><th>got</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


def _same(a: Any, b: Any, rel_tol: float, abs_tol: float) -> bool:
    from .runner import to_python

    a, b = to_python(a), to_python(b)
    if isinstance(a, bool) or isinstance(b, bool):
        # True == 1 in Python, but a model that yields true instead of 1 changes the output stream
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) or isinstance(b, float):
            if math.isnan(a) and math.isnan(b):
                return True
            return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rel_tol, abs_tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, rel_tol, abs_tol) for x, y in zip(a, b))
    return bool(a == b)


def _inline_filename(name: str, source: str) -> str:
    """``<model NAME>`` for tracebacks, numbered when another source already uses that name."""
    lines = source.splitlines(True)
    filename, n = f"<model {name}>", 1
    while filename in linecache.cache and linecache.cache[filename][2] != lines:
        n += 1
        filename = f"<model {name} #{n}>"
    return filename


def _as_schema(name: str, value: Any) -> Schema:
    from ..schema import Schema

    if isinstance(value, Schema):
        return value
    try:
        return Schema(name, value)
    except SchemaError as exc:
        raise ModelError(f"schema {name!r} is not valid Avro: {exc}", hint="fix the schema") from exc


def _control_kind(item: Any, control_type: type) -> str | None:
    """The kind of a control item (``set``, ``end``, ``pig``), or None for a record."""
    if isinstance(item, control_type):
        return item.kind
    if type(item) is dict and len(item) == 1 and "$fastscore" in item:
        return str(item["$fastscore"])
    return None


def _split_batches(items: list[Any], encoding: str | None, *, split: bool) -> list[list[Any]]:
    """Decode JSON texts if asked, then cut the records into batches at set markers."""
    import msgspec

    from ..codec.base import Control

    batches: list[list[Any]] = [[]]
    current = batches[-1]
    for index, item in enumerate(items):
        if encoding == "json":
            try:
                item = msgspec.json.decode(item)
            except (msgspec.DecodeError, TypeError) as exc:
                raise ModelError(
                    f"input {index} is not JSON: {exc}",
                    record_index=index,
                    hint='with encoding="json" every input is a JSON text, e.g. \'{"x": 1.0}\'',
                ) from exc
        kind = _control_kind(item, Control)
        if kind is None:
            current.append(item)
        elif kind == "end":
            break
        elif kind == "set" and split and current:
            current = []
            batches.append(current)
    return [b for b in batches if b]


def _json_text(item: Any) -> str:
    import msgspec

    from ..codec.base import Control

    if isinstance(item, Control):
        return json.dumps({"$fastscore": item.kind}, separators=(",", ":"))
    return msgspec.json.encode(item).decode()


def _as_frame(items: list[Any], schema: Any) -> Any:
    import pandas as pd

    from .runner import schema_kind

    if schema_kind(schema) == "record":
        return schema.to_pandas(items)
    if items and all(isinstance(i, dict) for i in items):
        return pd.DataFrame(items)
    if items and all(isinstance(i, list) for i in items):
        return pd.DataFrame(items)
    return pd.Series(items)
