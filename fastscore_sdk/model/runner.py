"""Run one instance of a model: the piece ``Model.score`` and the engines drive.

A :class:`ModelRunner` owns one model instance (a "jet" in FastScore terms): its module namespace, its
working directory with the attachments unpacked, its console and, for an explicit model, its thread.

Isolation (DESIGN §8 "Model isolation")
---------------------------------------
* The source is compiled once and executed in a fresh module (``fastscore_model_<name>_<n>``), present
  in ``sys.modules`` under that unique name only while the runner lives (so pickling and dataclasses
  defined in the model work) and removed by :meth:`ModelRunner.close`.
* The process working directory is never changed. The module gets its own ``__builtins__``: ``open``
  resolves relative paths against the runner's working directory (where attachments are unpacked),
  ``print`` writes to the runner's console, and ``__import__`` serves ``fastscore`` /
  ``fastscore.io`` (the model-side Slot API) and modules shipped in the attachments, privately.
  Library code the model calls (``pandas.read_csv("x.csv")``, ``os.path.exists``) still sees the
  process working directory; ``__file__`` points into the working directory so
  ``os.path.join(os.path.dirname(__file__), "x.pkl")`` works. Full isolation needs a child process.
* Attachments are unpacked safely: absolute member paths, ``..``, links that leave the directory and
  device files are refused.
* Before the module runs, every module it imports is checked with :func:`importlib.util.find_spec`
  (modules declared with ``# fastscore.module-attached:`` or shipped in an attachment excepted), so a
  missing dependency fails at load, naming the import line.

Engine API
----------
``ModelRunner(model, *, emit, console=None, errors="raise", check_inputs=True, check_outputs=True,
on_reject=None, max_pending=16)``

``start()``
    Unpack attachments, check imports, run the module (and ``begin()``), or start the explicit
    model's thread. Raises :class:`~fastscore_sdk.errors.ModelError` (or ``NotSupportedError`` for
    snapshots and non-Python model types).
``process(slot, records, *, seqno=0)``
    One batch from one input slot: a list of decoded records (or a DataFrame for a recordsets slot).
    ``seqno`` is the stream index of ``records[0]``; the model's ``seqno`` argument and error
    ``record_index`` count from it. Call-back models run synchronously. Explicit models receive the
    batch through ``Slot(n)`` on their own thread; ``process`` blocks only while ``max_pending``
    batches wait, raises the model's error if its thread already failed, and drops the batch (with a
    debug log) if the model has already returned. Call ``process`` from one thread at a time.
``wait_idle(timeout=None) -> bool``
    Explicit models: wait until the model has asked for the batch after the last one given (or has
    returned), i.e. every output for the input so far has been emitted; call it before passing a
    ``pig`` on. Always True at once for call-back models.
``finish(timeout=None)``
    End of input: call ``end()`` (its yields are emitted), or signal EOF to the explicit thread and
    join it, raising the model's error if it failed.
``close()``
    Remove the working directory and the module; idempotent. The runner is also a context manager
    (``start`` on enter, ``close`` on exit).

The emit contract: ``emit(slot, items)`` is called with an output slot number and a non-empty list of
output records in order (plain Python values: numpy scalars converted), with
:data:`fastscore_sdk.codec.base.SET` after each recordset written to a recordsets slot. A call-back
model's outputs are emitted at the end of each ``process``/``start``/``finish`` call, once per slot
that received something, on the caller's thread; if the model raises mid-batch the outputs of the
records before the failing one are emitted first. An explicit model's outputs are emitted from the
model's thread as it writes them, so ``emit`` must be thread-safe for explicit models. Outputs are schema-checked (``check_outputs``) before they are
emitted; a record that fails raises :class:`~fastscore_sdk.errors.SchemaError` (``errors="raise"``)
or is skipped and reported as a :class:`~fastscore_sdk.errors.Rejected` (``errors="reject"``) in
``runner.rejected`` and to ``on_reject``. Inputs likewise (``check_inputs``; an engine whose decoder
already checked them passes ``check_inputs=False``).

Routing of call-back outputs: a yielded value goes to slot 1. A yielded 2-tuple whose first item is an
int naming one of the model's in-use output slots goes to that slot; any other tuple is a value (an
ODBC row). A plain ``return x`` from ``action`` is one output; a returned iterator or generator is
iterated. ``begin``/``end`` outputs count only when they are generators.

Shapes of outputs: on a recordsets slot a DataFrame gives one record per row (``{index: row}`` with a
named index), a Series one record per element, an ndarray one record per row, each followed by
``SET``. On a plain slot a DataFrame still gives one record per row (no ``SET``), a Series is one
record (its dict) and an ndarray one list value. Console lines are kept in ``runner.console``;
``runner.records_in`` / ``runner.records_out`` count accepted input and emitted output records.

Examples
--------
>>> from fastscore_sdk.model import Model, ModelRunner
>>> m = Model("plus1", "def action(x):\\n    print('got', x)\\n    yield x + 1\\n")
>>> out = []
>>> with ModelRunner(m, emit=lambda slot, items: out.append((slot, items))) as r:
...     r.process(0, [1, 2])
...     r.finish()
>>> out
[(1, [2, 3])]
>>> r.console
['got 1', 'got 2']
"""

from __future__ import annotations

import ast
import builtins
import importlib.machinery
import importlib.util
import inspect
import itertools
import linecache
import logging
import os
import queue
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
import traceback as tb_mod
import types
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import GeneratorType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..codec.base import SET, Control
from ..errors import (
    FastScoreError,
    FastScoreTimeoutError,
    ModelError,
    NotSupportedError,
    Rejected,
    SchemaError,
)
from .fastscore_shim import make_modules

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "ModelRunner",
    "archive_members",
    "check_imports",
    "compile_source",
    "member_modules",
    "shipped_modules",
    "unpack_attachment",
]

logger = logging.getLogger("fastscore_sdk.model")

PYTHON_TYPES = ("python", "python3")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
_counter = itertools.count(1)
_EOF = object()
_real_import = builtins.__import__
_real_open = builtins.open
_real_print = builtins.print
_NATIVE = (int, float, str, bool, type(None), bytes)
_NATIVE_SET = frozenset(_NATIVE)
# Values an engine's encoders take as they are (numpy values inside them are the encoder's business).
_PASSTHROUGH = frozenset((*_NATIVE, dict, list))


# --------------------------------------------------------------------------------------------------
# source


def compile_source(source: str, filename: str, *, model: str | None = None) -> types.CodeType:
    """Compile a model's source, registering it with :mod:`linecache` so tracebacks show its lines.

    Parameters
    ----------
    source
        The Python source.
    filename
        Name used in tracebacks (the model file, or ``<model NAME>`` for inline sources).
    model
        Model name for error messages.

    Raises
    ------
    ModelError
        On a syntax error; ``.line`` is the offending line.

    Examples
    --------
    >>> code = compile_source("x = 1\\n", "<model demo>")
    >>> ns = {}; exec(code, ns); ns["x"]
    1
    """
    # A mtime of None keeps linecache.checkcache from discarding the entry of a source with no file.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        # dont_inherit: this module's `from __future__ import annotations` must not leak into models
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        raise ModelError(
            f"syntax error: {exc.msg}" + (f" ({text})" if text else ""),
            model=model,
            line=exc.lineno,
            hint="fix the model source and load it again",
        ) from None


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    """Top-level module names imported anywhere in the tree, with their line, skipping imports guarded
    by ``try: ... except ImportError`` (optional dependencies)."""
    found: list[tuple[str, int]] = []

    def guarded(node: ast.Try) -> bool:
        for handler in node.handlers:
            names = []
            if handler.type is None:
                return True
            for t in handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]:
                if isinstance(t, ast.Name):
                    names.append(t.id)
                elif isinstance(t, ast.Attribute):
                    names.append(t.attr)
            if {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} & set(names):
                return True
        return False

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and guarded(node):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name.partition(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.partition(".")[0], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def check_imports(
    source: str,
    filename: str,
    *,
    model: str | None = None,
    declared: Iterable[str] = (),
    shipped: Iterable[str] = (),
) -> None:
    """Check that every module the source imports can be found (reference §7 item 57).

    Modules named in ``declared`` (``# fastscore.module-attached:``) or ``shipped`` (in an attachment)
    are skipped, and so are imports guarded by ``try: ... except ImportError``.

    Raises
    ------
    ModelError
        ``module 'x' not found (declare it with # fastscore.module-attached: x or install it)``,
        with ``.line`` the import's line.

    Examples
    --------
    >>> check_imports("import math\\nimport numpy\\n", "<model m>")
    >>> check_imports("import not_installed_xyz\\n", "<model m>", declared=["not_installed_xyz"])
    """
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise ModelError(f"syntax error: {exc.msg}", model=model, line=exc.lineno) from None
    skip = {m.partition(".")[0] for m in declared} | set(shipped) | {"fastscore", "__future__"}
    for name, line in _imports(tree):
        if name in skip:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            text = linecache.getline(filename, line).strip()
            raise ModelError(
                f"module {name!r} not found (declare it with # fastscore.module-attached: {name} "
                f"or install it)" + (f": {text}" if text else ""),
                model=model,
                line=line,
            )


# --------------------------------------------------------------------------------------------------
# attachments


def _bad_member(archive: Path, member: str, why: str) -> ModelError:
    return ModelError(
        f"attachment {archive.name!r}: member {member!r} {why}; refusing to unpack it",
        hint="rebuild the archive with plain files under relative paths",
    )


def _check_name(archive: Path, name: str) -> None:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or PureWindowsPath(name).drive or PureWindowsPath(name).root:
        raise _bad_member(archive, name, "has an absolute path")
    if ".." in PurePosixPath(posix).parts:
        raise _bad_member(archive, name, "climbs out of the working directory with '..'")


def _inside(root: str, target: str) -> bool:
    root = os.path.normpath(root)
    target = os.path.normpath(target)
    return target == root or target.startswith(root + os.sep)


def _check_tar(archive: Path, tar: tarfile.TarFile, dest: str) -> list[str]:
    names = []
    for member in tar.getmembers():
        _check_name(archive, member.name)
        if member.issym():
            link = member.linkname
            if os.path.isabs(link) or PureWindowsPath(link).drive:
                raise _bad_member(archive, member.name, f"is a link to the absolute path {link!r}")
            target = os.path.join(dest, os.path.dirname(member.name), link)
            if not _inside(dest, target):
                raise _bad_member(archive, member.name, f"is a link pointing outside ({link!r})")
        elif member.islnk():
            link = member.linkname
            if os.path.isabs(link) or not _inside(dest, os.path.join(dest, link)):
                raise _bad_member(archive, member.name, f"is a hard link pointing outside ({link!r})")
        elif not (member.isfile() or member.isdir()):
            raise _bad_member(archive, member.name, "is a device or fifo")
        names.append(member.name)
    return names


def _check_zip(archive: Path, zf: zipfile.ZipFile, dest: str) -> list[str]:
    names = []
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            # zipfile writes links as plain files, but an escaping target is still a hostile archive
            link = zf.read(info).decode("utf-8", "replace")
            target = os.path.join(dest, os.path.dirname(info.filename), link)
            if os.path.isabs(link) or not _inside(dest, target):
                raise _bad_member(archive, info.filename, f"is a link pointing outside ({link!r})")
        names.append(info.filename)
    return names


def _open_archive(archive: Path) -> tarfile.TarFile | zipfile.ZipFile:
    lower = archive.name.lower()
    try:
        if lower.endswith(".zip"):
            return zipfile.ZipFile(archive)
        if lower.endswith((".tar.gz", ".tgz")):
            return tarfile.open(archive, "r:*")
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise ModelError(
            f"attachment {archive.name!r} cannot be read: {exc}",
            hint="check that the file is a complete .tar.gz, .tgz or .zip archive",
        ) from exc
    raise ModelError(
        f"attachment {archive.name!r} is not a .tar.gz, .tgz or .zip archive",
        hint="pack the files with: tar czf NAME.tar.gz FILES...",
    )


def archive_members(archive: str | os.PathLike[str]) -> list[str]:
    """Member names of an attachment, after checking that it can be unpacked safely.

    Raises
    ------
    ModelError
        The archive is unreadable, of an unknown type, or has a member that would escape.
    """
    path = Path(archive)
    arc = _open_archive(path)
    root = os.path.join(tempfile.gettempdir(), "fastscore-check")  # any absolute root works for the test
    with arc:
        if isinstance(arc, zipfile.ZipFile):
            return _check_zip(path, arc, root)
        return _check_tar(path, arc, root)


def unpack_attachment(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[str]:
    """Unpack an attachment into ``dest``, refusing members that would land outside it.

    Parameters
    ----------
    archive
        A ``.tar.gz``, ``.tgz`` or ``.zip`` file.
    dest
        An existing directory.

    Returns
    -------
    list of str
        The member names unpacked.

    Raises
    ------
    ModelError
        The archive is unreadable, or a member has an absolute path, ``..``, an escaping link, or is a
        device file.
    """
    path = Path(archive)
    root = os.path.realpath(dest)
    arc = _open_archive(path)
    with arc:
        try:
            if isinstance(arc, zipfile.ZipFile):
                names = _check_zip(path, arc, root)
                arc.extractall(root)
            else:
                names = _check_tar(path, arc, root)
                if hasattr(tarfile, "data_filter"):
                    arc.extractall(root, filter="data")  # second line of defence
                else:
                    arc.extractall(root)
        except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise ModelError(
                f"attachment {path.name!r} could not be unpacked: {exc}",
                hint="check the archive with 'tar tzf' or 'unzip -l'",
            ) from exc
    logger.debug("unpacked attachment %s into %s (%d members)", path.name, root, len(names))
    return names


def member_modules(names: Iterable[str]) -> set[str]:
    """Top-level module names an archive with these member names ships (``x.py``, ``pkg/__init__.py``).

    A plain folder is data, not a namespace package: it must not hide an installed package of the
    same name.
    """
    suffixes = tuple(importlib.machinery.all_suffixes())
    found: set[str] = set()
    for name in names:
        parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
        if not parts:
            continue
        if len(parts) == 2 and parts[1] == "__init__.py":
            top = parts[0]
        elif len(parts) == 1 and parts[0].endswith(suffixes):
            top = parts[0].split(".", 1)[0]
        else:
            continue
        if top.isidentifier():
            found.add(top)
    return found


def shipped_modules(directory: str | os.PathLike[str]) -> set[str]:
    """Top-level module names importable from ``directory``: ``x.py``, extension modules, and folders
    with an ``__init__.py`` (a plain folder is data, see :func:`member_modules`)."""
    names: set[str] = set()
    suffixes = tuple(importlib.machinery.all_suffixes())
    for entry in Path(directory).iterdir():
        if entry.is_dir():
            if entry.name.isidentifier() and (entry / "__init__.py").is_file():
                names.add(entry.name)
        elif entry.name.endswith(suffixes):
            stem = entry.name.split(".", 1)[0]
            if stem.isidentifier():
                names.add(stem)
    return names


# --------------------------------------------------------------------------------------------------
# values


def to_python(value: Any) -> Any:
    """``value`` with numpy scalars and arrays inside it turned into plain Python values.

    Examples
    --------
    >>> to_python({"a": np.float32(0.5), "b": [np.int64(1)]})
    {'a': 0.5, 'b': [1]}
    """
    if type(value) in _NATIVE:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, tuple) and not isinstance(value, Control):
        return tuple(to_python(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def frame_records(df: pd.DataFrame, schema: Any = None) -> list[Any]:
    """Rows of a model's output DataFrame as records (reference §2.5).

    Values become plain Python values (missing values ``None`` where the schema allows null). With a
    named index each row becomes ``{index_value: row_dict}``.
    """
    from ..schema import records_from_frame

    rows = records_from_frame(df, schema if schema_kind(schema) in ("record", "array") else None)
    if df.index.name is not None or any(n is not None for n in (df.index.names or [])):
        return [{to_python(k): row} for k, row in zip(df.index.tolist(), rows)]
    return rows


def schema_kind(schema: Any) -> str | None:
    """``"record"``, ``"array"``, ``"scalar"``, or None for no schema."""
    if schema is None:
        return None
    if getattr(schema, "is_record", False):
        return "record"
    avro = getattr(schema, "avro", None)
    if isinstance(avro, dict) and avro.get("type") == "array":
        return "array"
    return "scalar"


def _matrix(records: list[Any]) -> np.ndarray:
    try:
        arr = np.asarray(records)
    except ValueError:  # ragged rows: keep one row per element
        arr = np.empty(len(records), dtype=object)
        arr[:] = [list(r) for r in records]
        return arr
    return arr if arr.ndim >= 2 else arr.reshape(len(records), -1)


def build_batch(records: list[Any], schema: Any, *, frame_only: bool = False) -> Any:
    """The recordset a model receives for ``records`` (reference §2.5).

    A record schema gives a DataFrame typed by the schema, a scalar schema a Series, an array schema a
    2-D ndarray. Untyped: a DataFrame when every record is a dict, a 2-D ndarray when every record is
    a list, else a Series. An empty batch is an empty DataFrame. ``frame_only`` (explicit models,
    whose ``Slot.read`` always gives a DataFrame) builds a DataFrame whatever the records are.

    Examples
    --------
    >>> build_batch([{"x": 1.0}, {"x": 2.5}], None)
         x
    0  1.0
    1  2.5
    >>> build_batch([[1.0, 2.0], [3.0, 4.0]], None)
    array([[1., 2.],
           [3., 4.]])
    """
    kind = schema_kind(schema)
    if kind == "record" or (frame_only and kind is not None):
        return schema.to_pandas(records)
    if not records:
        return pd.DataFrame()
    if frame_only:
        return pd.DataFrame(records)
    if kind == "scalar":
        return schema.to_pandas(records)[0]
    if kind == "array":
        return _matrix(records)
    kinds = set(map(type, records))  # one C-level pass instead of isinstance per record
    if kinds == {dict}:
        return pd.DataFrame(records)
    if kinds <= {list, tuple}:
        return _matrix(records)
    if all(isinstance(r, dict) for r in records):
        return pd.DataFrame(records)
    if all(isinstance(r, (list, tuple)) for r in records):
        return _matrix(records)
    return pd.Series(records)


def _arity(fn: Callable[..., Any], name: str, model: str, line: int | None) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    count = required = 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return 3
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
            if param.default is param.empty:
                required += 1
    if count == 0 or required > 3:
        raise ModelError(
            f"{name}() takes {count} positional arguments",
            model=model,
            line=line,
            hint=f"define it as {name}(datum), {name}(datum, slot) or {name}(datum, slot, seqno)",
        )
    return min(count, 3)


class _Batch:
    __slots__ = ("frame", "records", "schema", "seqno")

    def __init__(self, frame: Any, records: list[Any] | None, schema: Any, seqno: int) -> None:
        self.frame = frame
        self.records = records
        self.schema = schema
        self.seqno = seqno


# --------------------------------------------------------------------------------------------------
# the runner


class ModelRunner:
    """One running instance of a model (see the module docstring for the engine contract).

    Parameters
    ----------
    model
        A :class:`~fastscore_sdk.model.Model`.
    emit
        ``emit(slot, items)``: receives each output slot's records, in order, with ``SET`` markers.
    console
        Optional ``console(line)`` called for every line the model prints (without the newline).
    errors
        ``"raise"`` (a record that fails its schema raises SchemaError) or ``"reject"`` (it is
        skipped and listed in :attr:`rejected`).
    check_inputs, check_outputs
        Check records against the slot schemas (on by default).
    on_reject
        Optional callback receiving each :class:`~fastscore_sdk.errors.Rejected`.
    max_pending
        Explicit models: how many input batches may wait before ``process`` blocks (None: no limit).
    plain_outputs
        Turn numpy values inside output records into plain Python values (on by default, for
        ``Model.score``). An engine whose encoders take numpy values turns it off: records then pass
        through untouched, which keeps the per-record path short.

    Attributes
    ----------
    console : list of str
        Every line the model printed.
    rejected : list of Rejected
        Records rejected by a schema (``errors="reject"``).
    records_in, records_out : dict
        Records accepted per input slot and emitted per output slot.
    workdir : pathlib.Path or None
        The working directory, once started.
    module : types.ModuleType or None
        The model's namespace, once started.

    Examples
    --------
    >>> from fastscore_sdk.model import Model
    >>> m = Model("split", "def action(x):\\n    yield (3, x)\\n    yield x\\n# fastscore.slot.3: in-use\\n")
    >>> got = {}
    >>> r = ModelRunner(m, emit=lambda s, items: got.setdefault(s, []).extend(items))
    >>> r.start(); r.process(0, ["a"]); r.finish(); r.close()
    >>> got
    {1: ['a'], 3: ['a']}
    """

    def __init__(
        self,
        model: Model,
        *,
        emit: Callable[[int, list[Any]], None],
        console: Callable[[str], None] | None = None,
        errors: str = "raise",
        check_inputs: bool = True,
        check_outputs: bool = True,
        on_reject: Callable[[Rejected], None] | None = None,
        max_pending: int | None = 16,
        plain_outputs: bool = True,
    ) -> None:
        if errors not in ("raise", "reject"):
            raise ValueError(f'errors must be "raise" or "reject", not {errors!r}')
        self.model = model
        self.emit = emit
        self.console: list[str] = []
        self._console_cb = console
        self.errors = errors
        self.check_inputs = check_inputs
        self.check_outputs = check_outputs
        self.plain_outputs = plain_outputs
        self.on_reject = on_reject
        self.rejected: list[Rejected] = []
        self.workdir: Path | None = None
        self.module: types.ModuleType | None = None
        self.state = "new"  # new -> running -> finished -> closed

        ann = model.annotations
        self._explicit = ann.explicit
        self._slots = {s.slot: s for s in model.slots}
        self._schemas = {s.slot: s.schema for s in model.slots}
        self._inputs = {s.slot for s in model.slots if s.is_input}
        self._outputs = {s.slot for s in model.slots if not s.is_input}
        self._recordsets = {s.slot: s.recordsets for s in model.slots}
        self._default_out = 1 if 1 in self._outputs else None
        self.records_in = dict.fromkeys(sorted(self._inputs), 0)
        self.records_out = dict.fromkeys(sorted(self._outputs), 0)
        self._produced: dict[int, int] = {}

        self._module_name = ""
        self._filename = getattr(model, "_filename", f"<model {model.name}>")
        self._callers: dict[int, tuple[Callable[..., Any], int, str]] = {}
        self._pending: dict[int, list[Any]] | None = None
        self._console_buf = ""
        self._console_lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self._import_lock = threading.RLock()
        self._private: dict[str, types.ModuleType] = {}
        self._shipped: set[str] = set()
        self._shim: dict[str, types.ModuleType] = {}
        self._builtins: dict[str, Any] = {}

        # explicit style
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._queues: dict[int, queue.Queue[Any]] = {}
        self._max_pending = max_pending
        self._current: dict[int, _Batch | None] = {}
        self._unfinished = 0
        self._idle = threading.Condition()
        self._closing = False

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> ModelRunner:
        if self.state == "new":
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        style = "explicit" if self._explicit else "call-back"
        return f"<ModelRunner model={self.model.name!r} {style} state={self.state}>"

    def start(self) -> None:
        """Prepare the working directory, check imports, and run the model's module.

        Raises
        ------
        NotSupportedError
            The model type is not Python, or the model asks for snapshots.
        ModelError
            An attachment is unsafe, an import is missing, or the module or ``begin()`` raised.
        """
        if self.state != "new":
            raise ModelError(f"runner already {self.state}", model=self.model.name)
        model = self.model
        if model.mtype not in PYTHON_TYPES:
            raise NotSupportedError(
                f"model {model.name!r}: {model.mtype} models are not supported yet; only Python models run",
                hint="port the model to Python 3, or run it on an original FastScore engine",
            )
        if model.annotations.snapshots == "eof":
            raise NotSupportedError(
                f"model {model.name!r}: '# fastscore.snapshots: eof' is not supported yet",
                hint="remove the line, or change it to '# fastscore.snapshots: none'",
            )
        code = getattr(model, "_code", None)
        if code is None:
            code = compile_source(model.source, self._filename, model=model.name)
        self._code = code
        self.workdir = Path(tempfile.mkdtemp(prefix=f"fastscore-{_safe(model.name)}-")).resolve()
        self.state = "running"
        try:
            for archive in model.attachments:
                unpack_attachment(archive, self.workdir)
            self._shipped = shipped_modules(self.workdir)
            self._check_imports()
            self._make_module(self.workdir)
            if self._explicit:
                self._start_thread()
            else:
                self._run_module()
        except BaseException:
            self.close()
            raise

    def _check_imports(self) -> None:
        check_imports(
            self.model.source,
            self._filename,
            model=self.model.name,
            declared=self.model.annotations.modules_attached,
            shipped=self._shipped,
        )

    def _make_module(self, workdir: Path) -> None:
        model = self.model
        self._module_name = f"fastscore_model_{_safe(model.name)}_{next(_counter)}"
        module = types.ModuleType(self._module_name, f"FastScore model {model.name!r}")
        self._shim = make_modules(self)
        b = dict(builtins.__dict__)
        b["open"] = self._open
        b["print"] = self._print
        b["__import__"] = self._import
        self._builtins = b
        suffix = ".py3" if model.mtype == "python3" else ".py"
        module.__dict__.update(
            __builtins__=b,
            __file__=str(workdir / f"{_safe(model.name)}{suffix}"),
        )
        self.module = module
        sys.modules[self._module_name] = module

    def _run_module(self) -> None:
        ns = self._namespace()
        try:
            exec(self._code, ns)
        except FastScoreError:
            raise
        except Exception as exc:
            raise self._model_error("loading the model", exc) from exc
        ann = self.model.annotations
        for slot in sorted(self._inputs):
            fname = self._slots[slot].action or "action"
            entry = ann.action_annotation(slot)
            fn = ns.get(fname)
            if not callable(fn):
                if entry is not None:
                    raise ModelError(
                        f"action {fname!r} for slot {slot} is not defined in the model ({entry.text})",
                        model=self.model.name,
                        line=entry.line,
                        hint=f"define def {fname}(datum): ... or fix the name",
                    )
                raise ModelError(
                    f"the model defines no action() function for input slot {slot}",
                    model=self.model.name,
                    hint="define def action(datum): ..., or mark an explicit model with "
                    "'# fastscore.action: unused'",
                )
            line = fn.__code__.co_firstlineno if hasattr(fn, "__code__") else None
            self._callers[slot] = (fn, _arity(fn, fname, self.model.name, line), fname)
        begin = ns.get("begin")
        if callable(begin):
            self._call_hook("begin", begin)

    def _call_hook(self, name: str, fn: Callable[[], Any]) -> None:
        self._pending = {}
        try:
            try:
                out = fn()
                if isinstance(out, Iterator):
                    for value in out:
                        self._yielded(value)
                elif out is not None:
                    logger.warning(
                        "model %r: %s() returned a value that is ignored; yield it to emit it",
                        self.model.name,
                        name,
                    )
            except FastScoreError:
                raise
            except Exception as exc:
                raise self._model_error(f"{name}()", exc) from exc
        finally:
            self._flush()

    def process(self, slot: int, records: Any, *, seqno: int = 0) -> None:
        """Deliver one batch of input records from ``slot`` to the model.

        Parameters
        ----------
        slot
            An in-use input slot of the model.
        records
            The decoded records, in order (a DataFrame is accepted for a recordsets slot and for an
            explicit model, and is delivered as is).
        seqno
            Stream index of the first record.

        Raises
        ------
        ModelError
            The model raised; ``slot``, ``record_index``, ``input`` and ``traceback`` say where.
        SchemaError
            An input or output record does not match its schema (``errors="raise"``).
        """
        if self.state != "running":
            raise ModelError(
                f"cannot process input: runner is {self.state}",
                model=self.model.name,
                hint="call start() first; after finish() make a new runner",
            )
        if slot not in self._inputs:
            kind = "an output slot" if slot % 2 else "not an in-use input slot"
            raise ModelError(
                f"slot {slot} is {kind} of the model",
                model=self.model.name,
                hint=f"its input slots are {sorted(self._inputs)}",
            )
        frame = None
        if isinstance(records, pd.DataFrame):
            frame = records
            use_frame = self._explicit or self._recordsets.get(slot, False)
            need_records = not use_frame or (self.check_inputs and self._schemas.get(slot) is not None)
            records = _records_from_frame(frame, self._schemas.get(slot)) if need_records else None
            if not use_frame:
                frame = None
        elif not isinstance(records, list):
            records = list(records)

        indices: list[int] | None = None
        if records is not None and self.check_inputs and self._schemas.get(slot) is not None:
            records, indices = self._check_inputs(slot, records, seqno)
            if frame is not None and len(indices) != len(frame):
                frame = frame.iloc[[i - seqno for i in indices]]
        count = len(frame) if frame is not None else len(records or [])
        self.records_in[slot] = self.records_in.get(slot, 0) + count

        if self._explicit:
            self._enqueue(slot, _Batch(frame, records, self._schemas.get(slot), seqno))
        elif self._recordsets.get(slot, False):
            batch = frame if frame is not None else build_batch(records or [], self._schemas.get(slot))
            self._call_action(slot, batch, seqno, records if records is not None else frame)
        elif records is not None:  # a frame on a per-record slot was turned into records above
            self._run_records(slot, records, seqno, indices)

    def _run_records(self, slot: int, records: list[Any], seqno: int, indices: list[int] | None) -> None:
        fn, arity, fname = self._callers[slot]
        self._pending = pending = {}
        yielded = self._yielded
        # The common case, a plain value for the default output slot with nothing to check or
        # convert, is appended straight to `direct`; anything else takes the general route
        # (`_yielded`), after `direct` is moved to the pending outputs so the order is kept.
        out_slot = self._default_out
        passthrough = (
            out_slot is not None
            and not self._recordsets.get(out_slot, False)
            and not (self.check_outputs and self._schemas.get(out_slot) is not None)
        )
        fast_types = (
            _PASSTHROUGH if passthrough and not self.plain_outputs else _NATIVE_SET if passthrough else ()
        )
        direct: list[Any] = []
        try:
            for offset, rec in enumerate(records):
                try:
                    if arity == 1:
                        out = fn(rec)
                    elif arity == 2:
                        out = fn(rec, slot)
                    else:
                        out = fn(rec, slot, seqno + offset if indices is None else indices[offset])
                    if out is None:
                        continue
                    if type(out) is GeneratorType or isinstance(out, Iterator):
                        for value in out:
                            if type(value) in fast_types:
                                direct.append(value)
                            else:
                                if direct:
                                    pending.setdefault(out_slot, []).extend(direct)
                                    self.records_out[out_slot] += len(direct)
                                    direct = []
                                yielded(value)
                    else:
                        if direct:
                            pending.setdefault(out_slot, []).extend(direct)
                            self.records_out[out_slot] += len(direct)
                            direct = []
                        yielded(out)
                except FastScoreError:
                    raise
                except Exception as exc:
                    index = seqno + offset if indices is None else indices[offset]
                    raise self._model_error(
                        f"{fname}()", exc, slot=slot, record_index=index, input=rec
                    ) from exc
        finally:
            if direct:
                pending.setdefault(out_slot, []).extend(direct)
                self.records_out[out_slot] += len(direct)
            self._flush()

    def _call_action(self, slot: int, batch: Any, seqno: int, shown: Any) -> None:
        fn, arity, fname = self._callers[slot]
        self._pending = {}
        try:
            try:
                if arity == 1:
                    out = fn(batch)
                elif arity == 2:
                    out = fn(batch, slot)
                else:
                    out = fn(batch, slot, seqno)
                if isinstance(out, Iterator):
                    for value in out:
                        self._yielded(value)
                elif out is not None:
                    self._yielded(out)
            except FastScoreError:
                raise
            except Exception as exc:
                raise self._model_error(
                    f"{fname}()", exc, slot=slot, record_index=seqno, input=shown
                ) from exc
        finally:
            self._flush()

    def finish(self, timeout: float | None = None) -> None:
        """End of input: run ``end()``, or let the explicit model see EOF and wait for it to return.

        Parameters
        ----------
        timeout
            Explicit models: seconds to wait for the model's thread (None: no limit).

        Raises
        ------
        ModelError
            ``end()`` or the explicit model raised.
        FastScoreTimeoutError
            The explicit model did not return in time.
        """
        if self.state != "running":
            raise ModelError(f"cannot finish: runner is {self.state}", model=self.model.name)
        try:
            if self._explicit:
                for q in self._queues.values():
                    self._put(q, _EOF)
                thread = self._thread
                if thread is not None:
                    thread.join(timeout)
                if thread is not None and thread.is_alive():
                    raise FastScoreTimeoutError(
                        f"model {self.model.name!r} did not finish within {timeout} s after the end of input",
                        hint="check that the model's loops end when Slot.read() returns None",
                    )
                if self._thread_error is not None:
                    raise self._thread_error
            else:
                end = self._namespace().get("end")
                if callable(end):
                    self._call_hook("end", end)
        finally:
            self._flush_console()
            if self.state == "running":
                self.state = "finished"

    def close(self) -> None:
        """Stop using the runner: end an explicit thread's input, drop the module, remove the workdir."""
        if self.state == "closed":
            return
        self.state = "closed"
        self._closing = True
        for q in self._queues.values():
            with q.mutex:
                q.queue.clear()
            q.put_nowait(_EOF)
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(1.0)
            if self._thread.is_alive():
                logger.warning("model %r: its thread is still running after close()", self.model.name)
        self._flush_console()
        if self._module_name:
            sys.modules.pop(self._module_name, None)
        if self.workdir is not None:
            try:
                shutil.rmtree(self.workdir)
            except OSError as exc:
                logger.warning("model %r: could not remove its working directory: %s", self.model.name, exc)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the model has consumed every batch given to it (explicit models: until it asks
        for the next batch or returns). True when idle, False on timeout. Call-back models are always
        idle between calls.
        """
        if not self._explicit:
            return True
        with self._idle:
            return self._idle.wait_for(
                lambda: self._unfinished == 0 or self._thread is None or not self._thread.is_alive(),
                timeout,
            )

    # ---------------------------------------------------------------- checks and outputs

    def _reject(self, index: int, exc: SchemaError, value: Any, slot: int) -> None:
        item = Rejected(index, exc.reason, value, "schema", slot)
        self.rejected.append(item)
        if self.on_reject is not None:
            self.on_reject(item)

    def _check_inputs(self, slot: int, records: list[Any], seqno: int) -> tuple[list[Any], list[int]]:
        schema = self._schemas[slot]
        kept: list[Any] = []
        indices: list[int] = []
        for offset, rec in enumerate(records):
            index = seqno + offset
            try:
                schema.validate(rec, record_index=index, slot=slot)
            except SchemaError as exc:
                if self.errors == "raise":
                    raise
                self._reject(index, exc, rec, slot)
                continue
            kept.append(rec)
            indices.append(index)
        return kept, indices

    def _yielded(self, value: Any) -> None:
        """Route one value a call-back produced."""
        slot = self._default_out
        if isinstance(value, tuple) and len(value) == 2 and not isinstance(value, Control):
            head = value[0]
            if (
                isinstance(head, (int, np.integer))
                and not isinstance(head, (bool, np.bool_))
                and int(head) in self._outputs
            ):
                slot, value = int(head), value[1]
        if slot is None:
            raise ModelError(
                "the model produced an output but slot 1 is not in use",
                model=self.model.name,
                hint="yield (slot, value) to an in-use output slot, or remove '# fastscore.slot.1: unused'",
            )
        self._deliver(slot, value)

    def _records_for(self, slot: int, value: Any) -> list[Any]:
        recordsets = self._recordsets.get(slot, False)
        if isinstance(value, pd.DataFrame):
            recs = frame_records(value, self._schemas.get(slot))
            return [*recs, SET] if recordsets else recs
        if isinstance(value, pd.Series):
            if recordsets:
                return [*(to_python(v) for v in value.tolist()), SET]
            return [to_python(value.to_dict())]
        if isinstance(value, np.ndarray):
            arr = np.asarray(value)
            if recordsets:
                rows = arr.tolist() if arr.ndim != 0 else [arr.item()]
                return [*rows, SET]
            return [arr.tolist()]
        return [to_python(value)]

    def _deliver(self, slot: int, value: Any) -> None:
        recs = [value] if type(value) in _NATIVE else self._records_for(slot, value)
        schema = self._schemas.get(slot)
        if self.check_outputs and schema is not None:
            kept = []
            for rec in recs:
                if isinstance(rec, Control):
                    kept.append(rec)
                    continue
                # index among everything the model produced on this slot, rejected or not
                index = self._produced[slot] = self._produced.get(slot, 0) + 1
                try:
                    schema.validate(rec, record_index=index - 1, slot=slot)
                except SchemaError as exc:
                    if self.errors == "raise":
                        raise
                    self._reject(index - 1, exc, rec, slot)
                    continue
                kept.append(rec)
            recs = kept
        n = len(recs)
        if n != 1 or isinstance(recs[0], Control):
            kinds = set(map(type, recs))
            if Control in kinds or any(issubclass(k, Control) for k in kinds):
                n = sum(1 for r in recs if not isinstance(r, Control))
        self.records_out[slot] = self.records_out.get(slot, 0) + n
        if not recs:
            return
        if self._pending is not None:
            self._pending.setdefault(slot, []).extend(recs)
        else:
            with self._emit_lock:
                self.emit(slot, recs)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            for slot in sorted(pending):
                if pending[slot]:
                    self.emit(slot, pending[slot])

    # ---------------------------------------------------------------- explicit style

    def _start_thread(self) -> None:
        for slot in sorted(self._inputs):
            self._queues[slot] = queue.Queue(self._max_pending or 0)
            self._current[slot] = None
        self._thread = threading.Thread(
            target=self._run_explicit, name=f"fastscore-model-{self.model.name}", daemon=True
        )
        self._thread.start()

    def _run_explicit(self) -> None:
        try:
            exec(self._code, self._namespace())
        except SystemExit as exc:
            if exc.code not in (None, 0):
                self._thread_error = self._model_error("the model", exc, **self._where())
        except FastScoreError as exc:
            self._thread_error = exc
        except Exception as exc:  # noqa: BLE001 - handed to finish()/process() on the caller's thread
            self._thread_error = self._model_error("the model", exc, **self._where())
        finally:
            with self._idle:
                self._idle.notify_all()

    def _where(self) -> dict[str, Any]:
        for slot, batch in self._current.items():
            if batch is not None:
                shown = batch.records if batch.records is not None else batch.frame
                return {"slot": slot, "record_index": batch.seqno, "input": shown}
        return {}

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while True:
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    return False

    def _enqueue(self, slot: int, batch: _Batch) -> None:
        if self._thread_error is not None:
            raise self._thread_error
        if self._thread is None or not self._thread.is_alive():
            logger.debug("model %r has returned; input batch on slot %d dropped", self.model.name, slot)
            return
        with self._idle:
            self._unfinished += 1
        if not self._put(self._queues[slot], batch):
            with self._idle:
                self._unfinished -= 1
            if self._thread_error is not None:
                raise self._thread_error

    def _explicit_read(self, slot: int, fmt: str) -> Any:
        if not self._explicit:
            raise ModelError(
                "Slot.read() is for explicit models; call-back models receive data through action()",
                model=self.model.name,
                hint="add '# fastscore.action: unused' to make the model explicit",
            )
        if slot % 2 == 1:
            raise ModelError(f"slot {slot} is an output slot; write to it", model=self.model.name)
        q = self._queues.get(slot)
        if q is None:
            raise ModelError(
                f"slot {slot} is not in use by the model",
                model=self.model.name,
                hint=f"declare it with '# fastscore.slot.{slot}: in-use' or a schema annotation",
            )
        if self._current.get(slot) is not None:
            self._current[slot] = None
            with self._idle:
                self._unfinished -= 1
                self._idle.notify_all()
        item = q.get()
        if item is _EOF or self._closing:
            q.put(_EOF)  # every later read sees the end too
            return None
        self._current[slot] = item
        if fmt == "records":
            if item.records is None:
                item.records = _records_from_frame(item.frame, item.schema)
            return item.records
        if item.frame is None:
            item.frame = build_batch(item.records, item.schema, frame_only=True)
        return item.frame

    def _explicit_write(self, slot: int, obj: Any) -> None:
        if slot % 2 == 0:
            raise ModelError(f"slot {slot} is an input slot; read from it", model=self.model.name)
        if slot not in self._outputs:
            raise ModelError(
                f"slot {slot} is not in use by the model",
                model=self.model.name,
                hint=f"declare it with '# fastscore.slot.{slot}: in-use' or a schema annotation",
            )
        self._deliver(slot, obj)

    # ---------------------------------------------------------------- builtins of the model

    def _open(self, file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)) and self.workdir is not None:
            path = os.fspath(file)
            if not os.path.isabs(path):
                base: Any = os.fsencode(self.workdir) if isinstance(path, bytes) else str(self.workdir)
                file = os.path.join(base, path)
        return _real_open(file, *args, **kwargs)

    def _print(
        self, *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is not None and file not in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            _real_print(*args, sep=sep, end=end, file=file, flush=flush)
            return
        text = (" " if sep is None else sep).join(str(a) for a in args) + ("\n" if end is None else end)
        self._write_console(text)

    def _write_console(self, text: str) -> None:
        with self._console_lock:
            buf = self._console_buf + text
            *lines, self._console_buf = buf.split("\n")
            self.console.extend(lines)
        for line in lines:
            logger.debug("model %r console: %s", self.model.name, line)
            if self._console_cb is not None:
                try:
                    self._console_cb(line)
                except Exception:
                    # a broken display must not turn into an exception inside the model's print()
                    logger.exception("model %r: the console callback failed", self.model.name)

    def _flush_console(self) -> None:
        with self._console_lock:
            rest, self._console_buf = self._console_buf, ""
        if rest:
            self._write_console(rest + "\n")

    def _import(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> types.ModuleType:
        if level > 0:
            package = (globals or {}).get("__package__") or ""
            if package.partition(".")[0] in self._private:
                bits = package.rsplit(".", level - 1)
                base = bits[0]
                return self._import_private(f"{base}.{name}" if name else base, fromlist, relative=True)
            return _real_import(name, globals, locals, fromlist, level)
        top = name.partition(".")[0]
        if top == "fastscore":
            if name not in self._shim:
                raise ModuleNotFoundError(
                    f"No module named {name!r}: models can import fastscore and fastscore.io only",
                    name=name,
                )
            return self._shim[name] if fromlist else self._shim["fastscore"]
        if top in self._shipped:
            return self._import_private(name, fromlist, relative=False)
        return _real_import(name, globals, locals, fromlist, level)

    def _import_private(self, name: str, fromlist: Any, *, relative: bool) -> types.ModuleType:
        with self._import_lock:
            parts = name.split(".")
            module = self._load_private(parts[0], None)
            for i in range(1, len(parts)):
                module = self._load_private(".".join(parts[: i + 1]), module)
            for item in fromlist or ():
                if item != "*" and not hasattr(module, item) and hasattr(module, "__path__"):
                    try:
                        self._load_private(f"{name}.{item}", module)
                    except ModuleNotFoundError:
                        pass  # `from pkg import attr` then fails with the usual ImportError
            if fromlist or relative:
                return module
            return self._private[parts[0]]

    def _load_private(self, name: str, parent: types.ModuleType | None) -> types.ModuleType:
        found = self._private.get(name)
        if found is not None:
            return found
        path = [str(self.workdir)] if parent is None else getattr(parent, "__path__", None)
        spec = importlib.machinery.PathFinder.find_spec(name, path) if path is not None else None
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        module = importlib.util.module_from_spec(spec)
        module.__dict__["__builtins__"] = self._builtins
        self._private[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            self._private.pop(name, None)
            raise
        if parent is not None:
            setattr(parent, name.rpartition(".")[2], module)
        return module

    # ---------------------------------------------------------------- errors

    def _namespace(self) -> dict[str, Any]:
        if self.module is None:
            raise ModelError("the runner has not been started", model=self.model.name, hint="call start()")
        return self.module.__dict__

    def _model_error(self, what: str, exc: BaseException, **where: Any) -> ModelError:
        tb = exc.__traceback__
        # Start the traceback at the model's own code, not at the runner frames that called it.
        start = tb
        while start is not None and start.tb_frame.f_code.co_filename != self._filename:
            start = start.tb_next
        shown = start or tb
        text = "".join(tb_mod.format_exception(type(exc), exc, shown))
        line = None
        walk = shown
        while walk is not None:
            if walk.tb_frame.f_code.co_filename == self._filename:
                line = walk.tb_lineno
            walk = walk.tb_next
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return ModelError(
            f"{what} raised {detail}",
            model=self.model.name,
            traceback=text,
            line=line,
            hint="see the error's .traceback for the model's stack",
            **where,
        )


def _records_from_frame(df: pd.DataFrame, schema: Any = None) -> list[Any]:
    from ..schema import records_from_frame

    return records_from_frame(df, schema)


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name) or "model"
