"""IPython magics: ``%load_ext fastscore_sdk`` registers them (nothing is registered at import).

Cell magics
-----------
``%%schema NAME``
    The cell is an Avro schema (JSON, or a primitive name such as ``double``).
``%%stream NAME``
    The cell is a stream descriptor (JSON) or a literal such as ``file:data/in.jsons``.
``%%model NAME [--type python3]``
    The cell is the model's source; its ``# fastscore.schema.N: NAME`` smart comments resolve against
    Avro primitives, then :class:`~fastscore_sdk.schema.Schema` objects in notebook variables (by
    variable name and by schema name), then the session library.

Each builds the object and checks it (a schema is parsed, a descriptor is verified, a model's smart
comments, schemas, syntax and imports are checked); only a valid object is stored in the session
library (``Library.default()``, under ``schemas``/``streams``/``models``) and bound to a notebook
variable named NAME. A name that is not a Python identifier (``rest-trip``) is bound as one
(``rest_trip``); ``--as VAR`` chooses the variable. On any error nothing is stored or bound, and
the cell shows one line naming the problem and its line or field. The cell's result is the object
(so the notebook shows it); ``--quiet`` returns nothing.

Line magic
----------
``%fastscore sample STREAM [-n N] [--timeout S]``
    The first records of a stream as a DataFrame (``sample_size`` records by default).
``%fastscore verify STREAM [SLOT]``
    The interpreted descriptor (secrets shown as ``*****``).
``%fastscore run MODEL STREAM [STREAM ...] [--wait] [--timeout S]``
    Loads the model into the session engine and attaches the streams to slots 0, 1, ...; returns
    the engine. ``--wait`` blocks until the run ends, with a progress bar.
``%fastscore serve [--port N] [--host H] [--tls] [--auth USER:PASSWORD] [--allow-local-streams]``
    Serves the session engine over the FastScore REST API (``eng.serve(...)``); returns the server
    (``.url``, ``.stop()``). ``--port 0`` (the default) picks a free port.
``%fastscore inspect`` / ``stats`` / ``stop`` / ``reset``
    ``eng.inspect()`` / ``eng.stats()`` / ``eng.stop()`` / ``eng.reset()`` of the session engine.

STREAM is a notebook variable holding a Stream, a stream of the session library, or a literal;
MODEL is a notebook variable holding a Model, a model of the library, or a model file.
Every verb is a thin shell over the Python call named beside it.

Options (traitlets; ``%config FastScoreMagics.sample_size = 20``)
------------------------------------------------------------------
``sample_size`` (10), ``sample_timeout`` (10.0 s), ``short_errors`` (True: one-line errors; False: the
full exception and traceback), ``library_path`` (None: the session library as found by
:meth:`Library.default`; a folder: use that library; ``""``: a fresh in-memory library),
``display_objects`` (True: cell magics return what they bound), ``progress`` (True: ``run --wait``
shows a progress bar), ``engine_name`` (``engine-1``).

Variable interpolation
----------------------
IPython's own ``$var`` and ``{var}`` expansion is off for these magics (``@no_var_expand``): ``$`` and
braces are common in descriptors and literals. Instead ``{{name}}`` (or ``{{name.attr}}``) is replaced
by a notebook variable's value in the arguments of every magic and in the bodies of ``%%schema`` and
``%%stream``: a string is inserted as is, a :class:`~fastscore_sdk.schema.Schema` as its Avro JSON, any
other JSON-able value as JSON, anything else with ``str()``. Only names are looked up; no expression
is evaluated. ``%%model`` bodies are not interpolated: they are Python, where ``{{`` is an escaped
brace in f-strings and variables are the model's own. An unknown name is an error.

Examples
--------
In a notebook, ``%load_ext fastscore_sdk`` and then cells; here through the testing shell:

>>> from fastscore_sdk.notebook._testing import TestingShell
>>> ip = TestingShell.preconfigured_shell()  # an IPython shell with the extension loaded
>>> ip.run_cell_magic("schema", "price", "double")
Schema('price', double)
>>> ip.run_line_magic("fastscore", "sample inline:1.5,2.5")["value"].tolist()
[1.5, 2.5]
"""

from __future__ import annotations

import argparse
import json
import keyword
import logging
import re
import shlex
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from .. import descriptor
from ..errors import FastScoreError
from ..library import Library
from ..schema import Schema
from ..stream import Stream
from .display import error_line

if TYPE_CHECKING:
    from ..engine.base import BaseEngine
    from ..model import Model

__all__ = [
    "FastScoreMagics",
    "interpolate",
    "load_ipython_extension",
    "unload_ipython_extension",
    "usage_error",
]

logger = logging.getLogger(__name__)

#: ``{{name}}`` or ``{{name.attr.attr}}``, spaces allowed inside the braces.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")

#: Errors a user can cause through a magic; anything else is a bug and keeps its traceback.
_USER_ERRORS = (FastScoreError, ValueError, TypeError, KeyError, OSError, ImportError)

_VERBS = ("sample", "verify", "run", "serve", "inspect", "stats", "stop", "reset")


def usage_error(exc: BaseException, context: str | None = None) -> UsageError:
    """An IPython ``UsageError`` (shown without a traceback) carrying one line about ``exc``.

    The line is the error's first message line (for a descriptor with several problems, the first
    problem and how many more), prefixed by ``context`` when given. ``error_type`` on the result names
    the original class; the original is also its ``__cause__`` when raised ``from`` it. IPython shows
    only ``UsageError`` itself briefly (not subclasses), hence an instance, as jupysql does.

    Examples
    --------
    >>> from fastscore_sdk.errors import SchemaError
    >>> err = usage_error(SchemaError("Double expected, not 'x'", path="$.price", record_index=3))
    >>> str(err), err.error_type
    ("record 3, at $.price: Double expected, not 'x'", 'SchemaError')
    """
    line = error_line(exc)
    err = UsageError(f"{context}: {line}" if context else line)
    err.error_type = type(exc).__name__  # type: ignore[attr-defined]
    return err


def _warn(message: str, where: str) -> None:
    """A warning attributed to the magic (``%fastscore sample:1: UserWarning: ...``), not to IPython's
    internals, whose file paths and source lines would only confuse a notebook reader."""
    warnings.warn_explicit(message, UserWarning, filename=where, lineno=1, module=__name__)


def _lookup(path: str, namespace: Mapping[str, Any]) -> Any:
    head, *attrs = path.split(".")
    if head not in namespace:
        raise UsageError(f"{{{{{path}}}}}: no variable named {head!r} in the notebook")
    value = namespace[head]
    for attr in attrs:
        try:
            value = getattr(value, attr)
        except AttributeError:
            raise UsageError(f"{{{{{path}}}}}: {head!r} has no attribute {attr!r}") from None
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Schema):
        return json.dumps(value.avro)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{{name}}`` (or ``{{name.attr}}``) in ``text`` by that variable's value.

    Strings go in as they are, :class:`~fastscore_sdk.schema.Schema` objects as their Avro JSON,
    other JSON-able values as JSON, anything else with ``str()``.

    Raises
    ------
    UsageError
        A name is not defined (or has no such attribute).

    Examples
    --------
    >>> interpolate('{"Path": "{{path}}", "Loop": {{loop}}}', {"path": "in.jsons", "loop": False})
    '{"Path": "in.jsons", "Loop": false}'
    >>> interpolate("file:{{ d.name }}", {"d": type("D", (), {"name": "x.jsons"})})
    'file:x.jsons'
    """
    if "{{" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: _as_text(_lookup(m.group(1), namespace)), text)


def _variable_name(name: str, chosen: str | None) -> str:
    """The notebook variable an object named ``name`` is bound to."""
    if chosen is not None:
        if not chosen.isidentifier() or keyword.iskeyword(chosen):
            raise UsageError(f"--as {chosen}: not a valid Python variable name")
        return chosen
    var = re.sub(r"\W", "_", name)
    if not var or var[0].isdigit() or keyword.iskeyword(var):
        var = f"_{var}"
    return var


def _load_json(body: str, context: str) -> Any:
    """Parse a cell body as JSON; line numbers count the magic's own line as line 1, as the notebook does."""
    try:
        return json.loads("\n" + body)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{context}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


class _HelpShown(Exception):
    """``-h`` was given: the help was written, there is nothing to run."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one-line UsageErrors instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _HelpShown

    def print_help(self, file: Any = None) -> None:
        # -h is an explicit request for text, so it goes where the user looks: the cell's output.
        (file or sys.stdout).write(self.format_help())


def _build_parser() -> _Parser:
    parser = _Parser(prog="%fastscore", description="FastScore verbs on streams and the session engine.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True

    p = verbs.add_parser("sample", help="the first records of a stream, as a DataFrame")
    p.add_argument("stream", help="a Stream variable, a library stream or a literal")
    p.add_argument("-n", "--count", type=int, default=None, help="how many records (sample_size)")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait (sample_timeout)")

    p = verbs.add_parser("verify", help="the interpreted descriptor of a stream")
    p.add_argument("stream")
    p.add_argument("slot", nargs="?", type=int, default=None, help="also check it fits this slot")

    p = verbs.add_parser("run", help="load a model and attach streams to slots 0, 1, ...")
    p.add_argument("model", help="a Model variable, a library model or a model file")
    p.add_argument("streams", nargs="+", metavar="STREAM")
    p.add_argument("--wait", action="store_true", help="block until the run ends")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: stop waiting after S seconds")

    p = verbs.add_parser("serve", help="serve the session engine over the FastScore REST API")
    p.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate (curl -k)")
    p.add_argument("--auth", metavar="USER:PASSWORD", default=None, help="turn on HTTP basic authentication")
    p.add_argument(
        "--allow-local-streams", action="store_true", help="let requests attach file and exec streams"
    )

    for verb, text in (
        ("inspect", "the session engine's state, model and streams"),
        ("stats", "per-slot counters of the session engine"),
        ("stop", "end the run, flushing outputs"),
        ("reset", "unload the model and detach every stream"),
    ):
        verbs.add_parser(verb, help=text)
    return parser


@magics_class
class FastScoreMagics(Magics):
    """The FastScore magics: ``%%schema``, ``%%stream``, ``%%model`` and ``%fastscore``.

    Registered by ``%load_ext fastscore_sdk``; configured with ``%config FastScoreMagics.OPTION = value``.
    See the module documentation for the magics and options.
    """

    sample_size = Int(10, help="Records `%fastscore sample` reads when -n is not given.").tag(config=True)
    sample_timeout = Float(10.0, help="Seconds `%fastscore sample` waits for records.").tag(config=True)
    short_errors = Bool(
        True, help="Show errors as one line (an IPython UsageError); False shows the full traceback."
    ).tag(config=True)
    library_path = Unicode(
        None,
        allow_none=True,
        help="The session library's folder (None: Library.default(); '': a fresh in-memory library).",
    ).tag(config=True)
    display_objects = Bool(True, help="Cell magics return the object they bound, so the cell shows it.").tag(
        config=True
    )
    progress = Bool(True, help="`%fastscore run --wait` shows a progress bar.").tag(config=True)
    engine_name = Unicode("engine-1", help="Name of the session engine.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._engine: BaseEngine | None = None
        self._server: Any = None
        self._parser = _build_parser()
        if self.library_path is not None:
            self._use_library(self.library_path)

    # -- options ---------------------------------------------------------------------------------
    @validate("sample_size")
    def _check_sample_size(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError(f"sample_size must be >= 0, not {proposal['value']}")
        return proposal["value"]

    @observe("library_path")
    def _library_path_changed(self, change: Any) -> None:
        self._use_library(change["new"])

    @staticmethod
    def _use_library(path: str | None) -> None:
        Library.set_default(None if path is None else Library(path or None))

    @property
    def library(self) -> Library:
        """The session library the cell magics fill."""
        return Library.default()

    @property
    def engine(self) -> BaseEngine:
        """The session engine ``%fastscore run`` uses (an embedded local engine, made on first use)."""
        if self._engine is None:
            from ..engine import Engine

            self._engine = Engine(self.engine_name)
        return self._engine

    # -- shared plumbing ---------------------------------------------------------------------------
    def _namespace(self, local_ns: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        if local_ns is not None and local_ns is not self.shell.user_ns:
            return {**self.shell.user_ns, **local_ns}
        return self.shell.user_ns

    @contextmanager
    def _errors(self, context: str | None = None) -> Iterator[None]:
        """Turn a user's mistake into a one-line UsageError (unless ``short_errors`` is off)."""
        try:
            yield
        except UsageError:
            raise
        except _USER_ERRORS as exc:
            if not self.short_errors:
                raise
            raise usage_error(exc, context) from exc

    def _bind(self, var: str, obj: Any, quiet: bool) -> Any:
        old = _kind(self.shell.user_ns.get(var))
        new = _kind(obj)
        if old is not None and old != new:
            # A schema and a stream named alike (iris-in / iris_in) would silently shadow each other.
            _warn(
                f"variable {var!r} held a {old}; it now holds the {new} {obj.name!r} (use --as VAR to keep both)",
                f"%%{new}",
            )
        self.shell.user_ns[var] = obj
        return None if quiet or not self.display_objects else obj

    # -- cell magics -------------------------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("name", help="the schema's name in the library (and its variable's name)")
    @argument("--as", dest="var", default=None, help="bind to this variable instead")
    @argument("-q", "--quiet", action="store_true", help="do not show the schema")
    @cell_magic("schema")
    def schema(self, line: str, cell: str) -> Schema | None:
        """Define an Avro schema (JSON, or a primitive name) and store it in the session library."""
        ns = self._namespace()
        args = parse_argstring(self.schema, interpolate(line, ns))
        context = f"%%schema {args.name}"
        var = _variable_name(args.name, args.var)
        body = interpolate(cell, ns)
        text = body.strip()
        if not text:
            raise UsageError(
                f"{context}: the cell is empty; write Avro JSON or a primitive name such as double"
            )
        avro = _load_json(body, context) if text[:1] in '{["' else text
        with self._errors(context):
            library = self.library
            schema = Schema(args.name, avro, library=library)
            library.schemas[args.name] = schema
        return self._bind(var, schema, args.quiet)

    @no_var_expand
    @magic_arguments()
    @argument("name", help="the stream's name in the library (and its variable's name)")
    @argument("--as", dest="var", default=None, help="bind to this variable instead")
    @argument("-q", "--quiet", action="store_true", help="do not show the stream")
    @cell_magic("stream")
    def stream(self, line: str, cell: str) -> Stream | None:
        """Define a stream from a JSON descriptor or a literal, verify it and store it in the library."""
        ns = self._namespace()
        args = parse_argstring(self.stream, interpolate(line, ns))
        context = f"%%stream {args.name}"
        var = _variable_name(args.name, args.var)
        body = interpolate(cell, ns)
        text = body.strip()
        if not text:
            raise UsageError(
                f"{context}: the cell is empty; write a JSON descriptor or a literal such as file:in.jsons"
            )
        if text[:1] == "{":
            desc: Any = _load_json(body, context)
        elif "\n" in text:
            raise UsageError(
                f"{context}: a literal is one line (e.g. kafka:broker:9092/topic.json); for more, write JSON"
            )
        else:
            desc = text
        with self._errors():
            library = self.library
            stream = Stream(args.name, desc, library=library)
            stream.verify()
            library.streams[args.name] = stream
        return self._bind(var, stream, args.quiet)

    @no_var_expand
    @magic_arguments()
    @argument("name", help="the model's name in the library (and its variable's name)")
    @argument("--type", dest="mtype", default="python3", help="model type (python3)")
    @argument("--as", dest="var", default=None, help="bind to this variable instead")
    @argument("-q", "--quiet", action="store_true", help="do not show the model")
    @cell_magic("model")
    def model(self, line: str, cell: str) -> Model | None:
        """Define a model from the cell's source; schemas in smart comments resolve against notebook
        variables and the session library. Stores it in the library."""
        from ..model import Model

        ns = self._namespace()
        args = parse_argstring(self.model, interpolate(line, ns))
        var = _variable_name(args.name, args.var)
        if not cell.strip():
            raise UsageError(f"%%model {args.name}: the cell is empty; write the model's Python source")
        with self._errors():
            library = self.library
            # A leading newline makes the model's line numbers those the notebook shows for the cell.
            model = Model(
                args.name, "\n" + cell, mtype=args.mtype, schemas=_notebook_schemas(ns), library=library
            )
            model.check_imports()
            library.models[args.name] = model
        return self._bind(var, model, args.quiet)

    # -- line magic --------------------------------------------------------------------------------
    @no_var_expand
    @needs_local_scope
    @line_magic("fastscore")
    def fastscore(self, line: str = "", local_ns: Mapping[str, Any] | None = None) -> Any:
        """FastScore verbs: sample, verify, run, serve, inspect, stats, stop, reset (``-h`` for help)."""
        ns = self._namespace(local_ns)
        text = interpolate(line, ns)
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"%fastscore: {exc}") from None
        if not argv:
            raise UsageError(f"%fastscore needs a verb: {', '.join(_VERBS)} (%fastscore -h for help)")
        try:
            args = self._parser.parse_args(argv)
        except _HelpShown:
            return None
        handler = getattr(self, f"_verb_{args.verb}")
        with self._errors(f"%fastscore {args.verb}"):
            return handler(args, ns)

    def _stream(self, token: str, ns: Mapping[str, Any]) -> Stream:
        value = ns.get(token) if token.isidentifier() else None
        if isinstance(value, Stream):
            return value
        library = self.library
        if token in library.streams:
            return library.streams[token]
        if descriptor.is_literal(token):
            return Stream(token, library=library)
        known = ", ".join(library.streams.names()) or "none"
        raise UsageError(
            f"no stream {token!r}: not a Stream variable, not in {library._where()} (streams: {known}), "
            "and not a literal such as file:in.jsons"
        )

    def _model(self, token: str, ns: Mapping[str, Any]) -> Model:
        from ..model import Model

        value = ns.get(token) if token.isidentifier() else None
        if isinstance(value, Model):
            return value
        library = self.library
        if token in library.models:
            return library.models[token]
        if Path(token).is_file():
            return Model.load(token, library=library, schemas=_notebook_schemas(ns))
        known = ", ".join(library.models.names()) or "none"
        raise UsageError(
            f"no model {token!r}: not a Model variable, not in {library._where()} (models: {known}), "
            "and not a model file"
        )

    def _verb_sample(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> Any:
        count = self.sample_size if args.count is None else args.count
        timeout = self.sample_timeout if args.timeout is None else args.timeout
        sample = self._stream(args.stream, ns).sample(count, timeout=timeout)
        if sample.rejected:
            first = sample.rejected[0]
            _warn(
                f"{len(sample.rejected)} records of stream {sample.stream.name!r} were rejected "
                f"(first: record {first.index}, {first.reason}); fs.Stream(...).sample(n).rejected lists them",
                "%fastscore sample",
            )
        return sample.to_pandas()

    def _verb_verify(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> dict[str, Any]:
        return self._stream(args.stream, ns).verify(args.slot)

    def _verb_run(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> BaseEngine:
        from ..engine.base import FINAL_STATES, EngineState

        model = self._model(args.model, ns)
        streams = [self._stream(token, ns) for token in args.streams]
        engine = self.engine
        if engine.state in FINAL_STATES:
            engine.reset()
        elif engine.state is not EngineState.INIT:
            raise UsageError(
                f"engine {engine.name!r} is {engine.state}; `%fastscore stop` or `%fastscore reset` first"
            )
        try:
            engine.run(model, *streams)
        except BaseException:
            # Never leave a model loaded with half its streams attached.
            engine.reset()
            raise
        if args.wait:
            engine.wait(args.timeout, progress=self.progress)
        return engine

    def _verb_serve(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> Any:
        engine = self.engine
        serve = getattr(engine, "serve", None)
        if serve is None:
            raise UsageError(f"engine {engine.name!r} cannot be served: this engine has no serve()")
        if self._server is not None:
            self._server.stop()
            self._server = None
        auth = None
        if args.auth is not None:
            user, sep, password = args.auth.partition(":")
            if not sep or not user:
                raise UsageError("%fastscore serve: --auth takes USER:PASSWORD")
            auth = (user, password)
        self._server = serve(
            host=args.host,
            port=args.port,
            tls=True if args.tls else None,
            auth=auth,
            allow_local_streams=args.allow_local_streams,
        )
        return self._server

    def _verb_inspect(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> dict[str, Any]:
        return self.engine.inspect()

    def _verb_stats(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> Any:
        return self.engine.stats()

    def _verb_stop(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> None:
        self.engine.stop()

    def _verb_reset(self, args: argparse.Namespace, ns: Mapping[str, Any]) -> None:
        self.engine.reset()

    def close(self) -> None:
        """Stop the served engine and reset the session engine (``%unload_ext``)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._engine is not None:
            self._engine.reset()


def _kind(value: Any) -> str | None:
    """``schema``, ``stream`` or ``model`` for the objects the cell magics bind, else None."""
    from ..model import Model

    for cls, kind in ((Schema, "schema"), (Stream, "stream"), (Model, "model")):
        if isinstance(value, cls):
            return kind
    return None


def _notebook_schemas(ns: Mapping[str, Any]) -> dict[str, Schema]:
    """Schemas held in notebook variables, by variable name and by schema name (variable names win).

    The original ``%%model`` only looked at variables named like the schema; a schema bound under
    another name (``s = fs.Schema("iris", ...)``) is found here by its own name too.
    """
    by_var: dict[str, Schema] = {}
    by_name: dict[str, Schema] = {}
    for var, value in list(ns.items()):
        if isinstance(value, Schema) and not var.startswith("_"):
            by_var[var] = value
            if value.name:
                by_name.setdefault(value.name, value)
    return {**by_name, **by_var}


def _find(ip: Any) -> FastScoreMagics | None:
    return next((c for c in ip.configurables if isinstance(c, FastScoreMagics)), None)


def load_ipython_extension(ip: Any) -> None:
    """Register the magics with an IPython shell (what ``%load_ext fastscore_sdk`` calls).

    Loading twice keeps the first registration (and its configuration).
    """
    if _find(ip) is not None:
        return
    magics = FastScoreMagics(shell=ip, parent=ip)
    # Also adds it to ip.configurables, where %config finds it.
    ip.register_magics(magics)
    logger.debug("fastscore magics registered")


def unload_ipython_extension(ip: Any) -> None:
    """Remove the magics (``%unload_ext fastscore_sdk``), stopping the session engine and server."""
    magics = _find(ip)
    if magics is None:
        return
    magics.close()
    while magics in ip.configurables:
        ip.configurables.remove(magics)
    for kind, names in (("cell", ("schema", "stream", "model")), ("line", ("fastscore",))):
        table = ip.magics_manager.magics[kind]
        for name in names:
            table.pop(name, None)
    ip.magics_manager.registry.pop(type(magics).__name__, None)
