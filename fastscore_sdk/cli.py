"""The ``fastscore`` command: the seed's commands over a local library and the embedded engine.

Each command is a thin shell over the Python API (DESIGN §2): it parses arguments, calls the
library, and prints. Errors from the SDK print one line (``Error: ...``) and exit with status 1;
usage errors exit with status 2.

The library is ``--library PATH``, else ``$FASTSCORE_LIBRARY``, else ``./library``.

Engines: ``fastscore connect URL [--user U]`` saves the connection in ``$FASTSCORE_CONFIG`` (default
``~/.config/fastscore/config.json``, mode 0600) and selects the first engine; ``fastscore use NAME``
selects another. The password is never a command-line argument and never in that file: it comes
from ``$FASTSCORE_PASSWORD`` or a prompt, and is kept in the OS keyring when the ``keyring`` package
is installed. ``run``, ``engine ...``, ``model input|output`` and ``stream attach|detach`` then act
on the selected engine (or on ``--engine URL``); ``run`` without a selected engine (or with
``--local``) uses the embedded engine. ``fastscore engine serve`` serves an embedded engine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import FastScoreError

__all__ = ["config_path", "main"]

log = logging.getLogger("fastscore_sdk.cli")

_BINARY_ENCODINGS = (None, "avro-binary", "msgpack")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args) or 0
    except (FastScoreError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"Error: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `fastscore ... | head`
        return 0


# -- parser --------------------------------------------------------------------------------------
def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastscore", description="FastScore streams, schemas, models and engines."
    )
    p.add_argument("--version", action="version", version=f"fastscore_sdk {__version__}")
    p.add_argument(
        "--library", metavar="PATH", help="library folder (default: $FASTSCORE_LIBRARY or ./library)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    groups = p.add_subparsers(title="commands", metavar="COMMAND")
    # Options of every command that talks to an engine: without them, the saved connection is used.
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument(
        "--engine",
        metavar="URL",
        help="engine server URL (instead of the saved connection), e.g. http://127.0.0.1:8000",
    )
    remote.add_argument(
        "--user",
        dest="engine_user",
        metavar="USER",
        help="basic-auth user for --engine ($FASTSCORE_PASSWORD)",
    )
    remote.add_argument("--insecure", "-k", action="store_true", help="accept a self-signed TLS certificate")

    stream = groups.add_parser("stream", help="stream descriptors").add_subparsers(metavar="VERB")
    c = stream.add_parser("add", help="save a descriptor (file, literal or stdin) in the library")
    c.add_argument("name")
    c.add_argument("source", nargs="?", help="descriptor file or literal (default: stdin)")
    c.add_argument("--allow-plaintext-secrets", action="store_true", help="save secrets in plain text anyway")
    c.set_defaults(handler=_stream_add)
    c = stream.add_parser("show", help="print a descriptor (secrets redacted)")
    c.add_argument("name", help="stream name or literal")
    c.set_defaults(handler=_stream_show)
    c = stream.add_parser("list", help="list the library's streams")
    c.set_defaults(handler=_bag_list, bag="streams")
    c = stream.add_parser("remove", help="remove a stream from the library")
    c.add_argument("name")
    c.set_defaults(handler=_bag_remove, bag="streams", title="Stream")
    c = stream.add_parser("verify", help="check a descriptor without opening it")
    c.add_argument("name", help="stream name or literal")
    c.add_argument("slot", nargs="?", type=int, help="slot it will be attached to (even: input, odd: output)")
    c.add_argument("-v", "--verbose", action="store_true", help="print the interpreted descriptor")
    c.set_defaults(handler=_stream_verify)
    c = stream.add_parser("sample", help="read a few records from a stream")
    c.add_argument("name", help="stream name or literal")
    c.add_argument("--count", "-n", type=int, default=10, help="how many records (default 10)")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for records (default 10)")
    c.add_argument("--table", action="store_true", help="print the records as a table")
    c.set_defaults(handler=_stream_sample)

    schema = groups.add_parser("schema", help="Avro schemas").add_subparsers(metavar="VERB")
    c = schema.add_parser("add", help="save an Avro schema (file or stdin) in the library")
    c.add_argument("name")
    c.add_argument("source", nargs="?", help="schema file (default: stdin)")
    c.set_defaults(handler=_schema_add)
    c = schema.add_parser("show", help="print a schema")
    c.add_argument("name")
    c.set_defaults(handler=_schema_show)
    c = schema.add_parser("list", help="list the library's schemas")
    c.set_defaults(handler=_bag_list, bag="schemas")
    c = schema.add_parser("remove", help="remove a schema from the library")
    c.add_argument("name")
    c.set_defaults(handler=_bag_remove, bag="schemas", title="Schema")
    c = schema.add_parser("verify", help="check a schema, and records against it")
    c.add_argument("name")
    c.add_argument("datafile", nargs="?", help="JSON records, one per line, to check")
    c.set_defaults(handler=_schema_verify)
    c = schema.add_parser("infer", help="infer an Avro schema from sample records")
    c.add_argument("file", help="JSON lines or CSV file")
    c.add_argument("--format", choices=("json", "csv"), help="input format (default: from the file suffix)")
    c.add_argument("--name", help="record name (default: from the file name)")
    c.set_defaults(handler=_schema_infer)
    model = groups.add_parser("model", help="models").add_subparsers(metavar="VERB")
    c = model.add_parser("add", help="save a model file in the library")
    c.add_argument("name")
    c.add_argument("source", nargs="?", help="model file (default: stdin)")
    c.add_argument(
        "--type", dest="mtype", default=None, help="model type (default: from the file suffix, else python3)"
    )
    c.set_defaults(handler=_model_add)
    c = model.add_parser("show", help="print a model's source")
    c.add_argument("name")
    c.set_defaults(handler=_model_show)
    c = model.add_parser("list", help="list the library's models")
    c.set_defaults(handler=_bag_list, bag="models")
    c = model.add_parser("remove", help="remove a model from the library")
    c.add_argument("name")
    c.set_defaults(handler=_bag_remove, bag="models", title="Model")
    c = model.add_parser("verify", help="check a model's smart comments, schemas and imports")
    c.add_argument("name", help="library name or model file")
    c.set_defaults(handler=_model_verify)
    c = model.add_parser("score", help="score JSON records (one per line) with a model, in-process")
    c.add_argument("name", help="library name or model file")
    c.add_argument("input", nargs="?", help="JSON lines file (default: stdin)")
    c.set_defaults(handler=_model_score)

    c = groups.add_parser(
        "run",
        parents=[remote],
        help="run a model over streams: on the selected engine, else in the embedded engine",
    )
    c.add_argument("model", help="library name or model file")
    c.add_argument(
        "streams", nargs="+", metavar="STREAM", help="streams for slots 0, 1, ... (names or literals)"
    )
    c.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    c.add_argument("--progress", action="store_true", help="show a progress bar")
    c.add_argument(
        "--local", action="store_true", help="run in the embedded engine even when an engine is selected"
    )
    c.set_defaults(handler=_run)

    # model commands against an engine
    c = model.add_parser("input", parents=[remote], help="send stdin lines to a REST input of the engine")
    c.add_argument("slot", nargs="?", type=int, default=0, help="input slot (even; default 0)")
    c.set_defaults(handler=_model_input)
    c = model.add_parser("output", parents=[remote], help="print records from a REST output of the engine")
    c.add_argument("slot", nargs="?", type=int, default=1, help="output slot (odd; default 1)")
    c.add_argument("--continue", "-c", dest="cont", action="store_true", help="keep printing until the end")
    c.add_argument("--nowait", action="store_true", help="do not wait when nothing is ready")
    c.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    c.set_defaults(handler=_model_output)
    c = stream.add_parser("attach", parents=[remote], help="attach a stream to a slot of the engine")
    c.add_argument("name", help="stream name or literal")
    c.add_argument("slot", type=int)
    c.set_defaults(handler=_stream_attach)
    c = stream.add_parser("detach", parents=[remote], help="detach the stream on a slot of the engine")
    c.add_argument("slot", type=int)
    c.set_defaults(handler=_stream_detach)

    engine = groups.add_parser("engine", help="the selected engine").add_subparsers(metavar="VERB")
    c = engine.add_parser("inspect", parents=[remote], help="print the engine's state, model and streams")
    c.add_argument("-v", "--verbose", action="store_true", help="explain the state")
    c.set_defaults(handler=_engine_inspect)
    for verb, text in (
        ("reset", "unload the model and detach every stream"),
        ("pause", "pause processing"),
        ("unpause", "resume processing"),
    ):
        c = engine.add_parser(verb, parents=[remote], help=text)
        c.set_defaults(handler=_engine_control, verb=verb)
    c = engine.add_parser("put", parents=[remote], help="upload a file into the engine's file area")
    c.add_argument("src", help="local file")
    c.add_argument("dst", nargs="?", help="file name on the engine (default: the same name)")
    c.set_defaults(handler=_engine_put)
    c = engine.add_parser("serve", help="serve an embedded engine over the FastScore REST API")
    c.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    c.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    c.add_argument("--cert", metavar="FILE", help="TLS certificate (PEM; with --key, instead of self-signed)")
    c.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    c.add_argument(
        "--user", help="require basic auth as this user (password from $FASTSCORE_PASSWORD or a prompt)"
    )
    c.add_argument(
        "--allow-local-streams",
        action="store_true",
        help="let clients attach file and exec streams (they read files and run commands here)",
    )
    c.add_argument("--name", default="engine-1", help="engine name (default engine-1)")
    c.set_defaults(handler=_engine_serve)

    c = groups.add_parser("connect", help="connect to a FastScore server and save the connection")
    c.add_argument("url", help="server URL, e.g. https://127.0.0.1:8000")
    c.add_argument("--user", help="basic-auth user (password from $FASTSCORE_PASSWORD or a prompt)")
    c.add_argument(
        "--insecure", "-k", action="store_true", help="accept a self-signed TLS certificate (as curl -k)"
    )
    c.set_defaults(handler=_connect)
    c = groups.add_parser("use", help="select the engine later commands act on")
    c.add_argument("name", help="engine name, e.g. engine-1")
    c.set_defaults(handler=_use)
    c = groups.add_parser("fleet", help="list the engines of the connected server")
    c.set_defaults(handler=_fleet)
    c = groups.add_parser("disconnect", help="forget the saved connection (and its stored password)")
    c.set_defaults(handler=_disconnect)
    return p


# -- helpers -------------------------------------------------------------------------------------
def _library(args: argparse.Namespace, *, create: bool = False) -> Any:
    from .library import Library

    path = Path(args.library or os.environ.get("FASTSCORE_LIBRARY") or "library")
    if not path.is_dir():
        if not create:
            raise FastScoreError(
                f"no library folder at {str(path)!r}",
                hint="pass --library PATH, set $FASTSCORE_LIBRARY, or run from a folder with ./library",
            )
        path.mkdir(parents=True)
    return Library(path)


def _stream(args: argparse.Namespace, name: str) -> Any:
    from . import descriptor
    from .stream import Stream

    if descriptor.is_literal(name):
        return Stream(name)
    return _library(args).streams[name]


def _read_source(source: str | None) -> str:
    if source is None or source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FastScoreError(f"cannot read {source!r}: {exc.strerror or exc}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# -- commands common to every library bag -------------------------------------------------------
def _bag_list(args: argparse.Namespace) -> int:
    names = sorted(getattr(_library(args), args.bag))
    if args.json:
        _print_json(names)
    else:
        for name in names:
            print(name)
    return 0


def _bag_remove(args: argparse.Namespace) -> int:
    del getattr(_library(args), args.bag)[args.name]
    print(f"{args.title} '{args.name}' removed")
    return 0


# -- stream commands -----------------------------------------------------------------------------
def _stream_add(args: argparse.Namespace) -> int:
    from . import descriptor
    from .stream import Stream, _parse_text

    lib = _library(args, create=True)
    source = args.source
    if source is not None and descriptor.is_literal(source) and not Path(source).exists():
        stream = Stream(args.name, descriptor.from_literal(source))
    else:
        stream = Stream(args.name, _parse_text(_read_source(source), args.name, source=source))
    if args.allow_plaintext_secrets:
        lib.allow_plaintext_secrets = True
    lib.streams[args.name] = stream
    print(f"Stream '{args.name}' added")
    return 0


def _stream_show(args: argparse.Namespace) -> int:
    print(_stream(args, args.name).to_json())
    return 0


def _stream_verify(args: argparse.Namespace) -> int:
    from .errors import DescriptorError

    stream = _stream(args, args.name)
    try:
        interpreted = stream.verify(args.slot)
    except DescriptorError as exc:
        if args.json:
            _print_json({"ok": False, "problems": [p.__dict__ for p in exc.problems]})
        else:
            print(
                f"The stream descriptor '{stream.name}' has {len(exc.problems)} problem(s):", file=sys.stderr
            )
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        return 1
    if args.json:
        _print_json({"ok": True, "interpreted": interpreted})
        return 0
    if args.verbose:
        _print_json(interpreted)
    print("The stream descriptor contains no errors")
    return 0


def _stream_sample(args: argparse.Namespace) -> int:
    stream = _stream(args, args.name)
    sample = stream.sample(args.count, timeout=args.timeout)
    if args.json:
        _print_json({"records": sample.records, "rejected": [r._asdict() for r in sample.rejected]})
    elif args.table:
        import pandas as pd

        with pd.option_context("display.max_columns", 50, "display.width", 160):
            print(sample.to_pandas().to_string())
    else:
        encoding = stream.verify().get("encoding")
        binary = encoding in _BINARY_ENCODINGS
        for i, raw in enumerate(sample.raw, 1):
            if binary:
                print(f"{i:4d}:")
                print(hexdump(raw, indent="      "))
            else:
                print(f"{i:4d}: {raw.decode('utf-8', 'replace')}")
    for rejected in sample.rejected:
        print(f"rejected record {rejected.index}: {rejected.reason}", file=sys.stderr)
    if not sample.records and not sample.rejected:
        print("(no records)", file=sys.stderr)
    return 0


def hexdump(data: bytes, *, indent: str = "") -> str:
    """A 16-bytes-per-line hex and ASCII dump, as ``fastscore stream sample`` prints binary records.

    Examples
    --------
    >>> print(hexdump(b"\\x00\\x01fastscore"))
    0000  00 01 66 61 73 74 73 63  6f 72 65                 |..fastscore|
    """
    lines = []
    for offset in range(0, max(len(data), 1), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{indent}{offset:04x}  {hexes:<48}  |{text}|")
    return "\n".join(lines)


# -- model commands ------------------------------------------------------------------------------
def _model(args: argparse.Namespace, name: str) -> Any:
    from .model import Model

    path = Path(name)
    if path.suffix and path.is_file():
        lib = None
        with_library = args.library or os.environ.get("FASTSCORE_LIBRARY") or Path("library").is_dir()
        if with_library:
            lib = _library(args)
        return Model.load(path, library=lib)
    return _library(args).models[name]


def _model_add(args: argparse.Namespace) -> int:
    from .model import Model

    lib = _library(args, create=True)
    if args.source is not None:
        model = Model.load(args.source, library=lib, mtype=args.mtype)
        model = Model(args.name, model.source, model.mtype, library=lib)
    else:
        model = Model(args.name, sys.stdin.read(), args.mtype or "python3", library=lib)
    lib.models[args.name] = model
    print(f"Model '{args.name}' added")
    return 0


def _model_show(args: argparse.Namespace) -> int:
    sys.stdout.write(_model(args, args.name).source)
    return 0


def _model_verify(args: argparse.Namespace) -> int:
    model = _model(args, args.name)
    model.check_imports()
    sloc = sum(1 for line in model.source.splitlines() if line.strip() and not line.strip().startswith("#"))
    if args.json:
        _print_json(
            {
                "name": model.name,
                "type": model.mtype,
                "sloc": sloc,
                "slots": [s.as_dict() for s in model.slots],
            }
        )
        return 0
    print(f"Name: {model.name}\nType: {model.mtype}\nSLOC: {sloc}\n")
    rows = [("Slot", "Direction", "Schema", "Recordsets", "Action")]
    for s in model.slots:
        schema = s.schema.name if s.schema is not None else "(untyped)"
        action = s.action or (
            "-" if s.direction == "output" else "(explicit)" if model.explicit else "action"
        )
        rows.append((str(s.slot), s.direction, schema, "yes" if s.recordsets else "no", action))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    modules = ", ".join(model.annotations.modules_attached)
    if modules:
        print(f"\nAttached modules: {modules}")
    print("\nThe model contains no errors")
    return 0


def _model_score(args: argparse.Namespace) -> int:
    model = _model(args, args.name)
    lines = [line for line in _read_source(args.input).splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FastScoreError(f"input line {number} is not JSON: {exc.msg}") from None
    for output in model.score(records):
        print(json.dumps(output, default=_jsonable))
    return 0


def _jsonable(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _run(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .stream import Stream

    model = _model(args, args.model)
    lib = _library(args) if not all(_is_literal(s) for s in args.streams) else None
    streams = [Stream(s) if _is_literal(s) else lib.streams[s] for s in args.streams]
    engine = None if args.local else _remote_engine(args, required=False)
    if engine is None:
        engine = Engine()
    else:
        log.info("running %s on %r", model.name, engine)
        if engine.state in ("FINISHED", "ERROR"):
            # The previous run is over: a new run replaces it, as `fastscore run` did in FastScore.
            engine.reset()
    engine.run(model, *streams)
    state = engine.wait(args.timeout, progress=args.progress)
    if state not in ("FINISHED", "ERROR"):
        engine.stop()
        state = engine.state
    stats = engine.stats()
    for slot, row in stats.iterrows():
        direction = "in " if slot % 2 == 0 else "out"
        rejected = int(row["rejected_by_schema"]) + int(row["rejected_by_encoding"])
        note = f", {rejected} rejected" if rejected else ""
        print(
            f"slot {slot} {direction} {row['stream']}: {int(row['records'])} records{note}", file=sys.stderr
        )
    if state == "ERROR":
        error = engine.last_error
        print(f"Error: {error}", file=sys.stderr)
        tb = getattr(error, "traceback", None)
        if tb:
            print(tb.rstrip(), file=sys.stderr)
        return 1
    return 0


# -- connection, configuration and engine commands -------------------------------------------------
#: The keyring service name passwords are stored under (as ``USER@URL``).
KEYRING_SERVICE = "fastscore_sdk"
PASSWORD_ENV = "FASTSCORE_PASSWORD"
CONFIG_ENV = "FASTSCORE_CONFIG"

_STATE_HELP = {
    "INIT": "The pipeline is incomplete: load a model and attach a stream to every slot it uses.",
    "RUNNING": "The model is loaded and every slot it uses has a stream: records flow.",
    "PAUSED": "Nothing is processed until `fastscore engine unpause`.",
    "PIGGING": "A pig control record is travelling through the pipeline.",
    "FINISHING": "Every input ended; the model is finishing its work.",
    "FINISHED": "Inputs and outputs ended. `fastscore engine reset` makes the engine ready again.",
    "ERROR": "The model or a stream failed (see the error below). `fastscore engine reset` recovers.",
}


def config_path() -> Path:
    """Where ``fastscore connect`` saves the connection: ``$FASTSCORE_CONFIG``, else
    ``~/.config/fastscore/config.json`` (``$XDG_CONFIG_HOME`` is honoured)."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "fastscore" / "config.json"


def _load_config() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise FastScoreError(f"cannot read the configuration {str(path)!r}: {exc.strerror or exc}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FastScoreError(
            f"the configuration {str(path)!r} is not valid JSON ({exc.msg}, line {exc.lineno})",
            hint="fix it, or run `fastscore connect URL` again",
        ) from None
    return config if isinstance(config, dict) else {}


def _save_config(config: dict[str, Any]) -> Path:
    """Write the configuration readable by its owner only (0600), replacing the old one at once."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)  # the umask may have taken bits away, never added: make it exact
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _keyring() -> Any:
    """The keyring module when it is installed (the OS password store), else None."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None
    return keyring


def _ask_password(user: str, url: str) -> str:
    """The password of ``user``: ``$FASTSCORE_PASSWORD``, else a prompt on the terminal."""
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise FastScoreError(
            f"no password for user {user!r} at {url}",
            hint=f"set ${PASSWORD_ENV}, or run the command in a terminal to be asked",
        )
    import getpass

    return getpass.getpass(f"Password for {user} at {url}: ")


def _stored_password(config: dict[str, Any]) -> str:
    user, url = config["user"], config["url"]
    if config.get("password_store") == "keyring":
        keyring = _keyring()
        if keyring is not None:
            try:
                password = keyring.get_password(KEYRING_SERVICE, f"{user}@{url}")
            except keyring.errors.KeyringError as exc:  # no usable backend: fall back to the environment
                log.warning("cannot read the password from the keyring: %s", type(exc).__name__)
                password = None
            if password is not None:
                return password
    return _ask_password(user, url)


def _split_engine_url(url: str) -> tuple[str, str | None]:
    """``http://h:p/api/1/service/engine-2`` -> (``http://h:p``, ``engine-2``); a bare URL -> (url, None)."""
    from .engine.remote import SERVICE_PATH

    head, sep, tail = url.rstrip("/").partition(SERVICE_PATH + "/")
    if sep and tail and "/" not in tail:
        return head, tail
    return url, None


def _remote_engine(args: argparse.Namespace, *, required: bool = True) -> Any:
    """The engine a command acts on: ``--engine URL``, else the saved connection; None if neither."""
    from .engine.remote import connect

    url = getattr(args, "engine", None)
    if url:
        base, name = _split_engine_url(url)
        user = getattr(args, "engine_user", None)
        auth = (user, _ask_password(user, base)) if user else None
        verify = not getattr(args, "insecure", False)
        return connect(base, auth=auth, verify=verify, check=False).engine(name or "engine-1")
    config = _load_config()
    if not config.get("url"):
        if not required:
            return None
        raise FastScoreError(
            "no engine selected",
            hint="run `fastscore connect URL` (and `fastscore use NAME`), or pass --engine URL",
        )
    return _saved_connection(config).engine(config.get("engine") or "engine-1")


def _saved_connection(config: dict[str, Any] | None = None) -> Any:
    """The connection ``fastscore connect`` saved."""
    from .engine.remote import connect

    config = _load_config() if config is None else config
    if not config.get("url"):
        raise FastScoreError("not connected", hint="run `fastscore connect URL` first")
    auth = (config["user"], _stored_password(config)) if config.get("user") else None
    return connect(config["url"], auth=auth, verify=config.get("verify", True), check=False)


def _connect(args: argparse.Namespace) -> int:
    from .engine.remote import connect

    base, name = _split_engine_url(args.url)
    auth = (args.user, _ask_password(args.user, base)) if args.user else None
    conn = connect(base, auth=auth, verify=not args.insecure)
    engine = conn.engine(name)
    config = {"url": conn.url, "user": args.user, "engine": engine.name, "verify": not args.insecure}
    store = None
    if auth is not None:
        keyring = _keyring()
        if keyring is not None:
            try:
                keyring.set_password(KEYRING_SERVICE, f"{args.user}@{conn.url}", auth[1])
                store = "keyring"
            except keyring.errors.KeyringError as exc:  # no usable backend: fall back to the environment
                log.warning("cannot store the password in the keyring: %s", type(exc).__name__)
        config["password_store"] = store or "environment"
    path = _save_config(config)
    who = f" as {args.user}" if args.user else ""
    print(f"Connected to {conn.url}{who}")
    print(f"Using engine {engine.name}")
    if auth is not None:
        if store == "keyring":
            print("Password stored in the OS keyring")
        else:
            print(
                f"Password not stored (no usable keyring; install the keyring package to store it): "
                f"later commands read ${PASSWORD_ENV}"
            )
    log.info("connection saved in %s", path)
    return 0


def _use(args: argparse.Namespace) -> int:
    config = _load_config()
    # Raises, listing the engines there are, when there is no engine of that name.
    _saved_connection(config).engine(args.name)
    config["engine"] = args.name
    _save_config(config)
    print(f"Using engine {args.name}")
    return 0


def _fleet(args: argparse.Namespace) -> int:
    fleet = _saved_connection().fleet()
    if args.json:
        _print_json(fleet)
        return 0
    rows = [("Name", "API", "Health")] + [
        (str(e.get("name")), str(e.get("api")), str(e.get("health"))) for e in fleet
    ]
    _print_table(rows)
    return 0


def _disconnect(args: argparse.Namespace) -> int:
    config = _load_config()
    keyring = _keyring()
    if keyring is not None and config.get("password_store") == "keyring":
        try:
            keyring.delete_password(KEYRING_SERVICE, f"{config['user']}@{config['url']}")
        except keyring.errors.KeyringError as exc:  # already gone, or no backend: nothing to remove
            log.info("keyring entry not removed: %s", type(exc).__name__)
    config_path().unlink(missing_ok=True)
    print("Disconnected")
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _engine_inspect(args: argparse.Namespace) -> int:
    engine = _remote_engine(args)
    info = engine.inspect()
    if args.json:
        _print_json(info)
        return 0
    state = str(info.get("state", "?"))
    print(f"Engine {engine.name} at {engine.connection.url}: {state}")
    if args.verbose and state in _STATE_HELP:
        print(f"  {_STATE_HELP[state]}")
    model = info.get("model")
    if model:
        slots = ", ".join(str(s.get("slot")) for s in model.get("slots", []))
        print(f"Model: {model.get('name')} (slots {slots})")
    else:
        print("Model: (none)")
    streams = info.get("streams") or {}
    if streams:
        rows = [("Slot", "Name", "Transport", "EOF", "Records")]
        for slot in sorted(streams, key=int):
            s = streams[slot]
            rows.append(
                (
                    str(slot),
                    str(s.get("name")),
                    str(s.get("transport")),
                    str(s.get("eof")),
                    str(s.get("records")),
                )
            )
        _print_table(rows)
    if info.get("last_error"):
        print(f"Error: {info['last_error']}")
    return 0


def _engine_control(args: argparse.Namespace) -> int:
    engine = _remote_engine(args)
    getattr(engine, args.verb)()
    done = {"reset": "reset", "pause": "paused", "unpause": "unpaused"}[args.verb]
    print(f"Engine {engine.name} {done}")
    return 0


def _engine_put(args: argparse.Namespace) -> int:
    engine = _remote_engine(args)
    print(engine.put(args.src, args.dst))
    return 0


def _engine_serve(args: argparse.Namespace) -> int:
    from .engine import LocalEngine
    from .engine.server import serve_forever

    if (args.cert is None) != (args.key is None):
        raise FastScoreError("--cert and --key go together", hint="give both, or --tls for a self-signed one")
    tls: Any = (args.cert, args.key) if args.cert else bool(args.tls)
    auth = (args.user, _ask_password(args.user, f"{args.host}:{args.port}")) if args.user else None

    def ready(handle: Any) -> None:
        print(f"Serving {args.name} at {handle.url} (Ctrl-C stops)", flush=True)
        insecure = " --insecure" if tls is True else ""
        user = f" --user {args.user}" if args.user else ""
        print(f"Connect with: fastscore connect {handle.url}{user}{insecure}", flush=True)

    serve_forever(
        LocalEngine(args.name),
        host=args.host,
        port=args.port,
        tls=tls,
        auth=auth,
        allow_local_streams=args.allow_local_streams,
        on_ready=ready,
    )
    return 0


def _check_slot(slot: int, direction: str) -> None:
    if slot < 0 or (slot % 2 == 0) != (direction == "input"):
        other = "output" if direction == "input" else "input"
        raise FastScoreError(
            f"slot {slot} is an {other} slot",
            hint=f"{direction} slots are {'even' if direction == 'input' else 'odd'}",
        )


def _model_input(args: argparse.Namespace) -> int:
    _check_slot(args.slot, "input")
    engine = _remote_engine(args)
    framed = engine._codec(args.slot).framed
    sent = 0
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            break  # an empty line ends the input, as in FastScore's CLI
        # A framed stream needs the separator to cut the record; an unframed one takes the body whole.
        engine.input(text + "\n" if framed else text, args.slot)
        sent += 1
    log.info("sent %d record(s) to slot %d", sent, args.slot)
    return 0


def _model_output(args: argparse.Namespace) -> int:
    import time

    _check_slot(args.slot, "output")
    engine = _remote_engine(args)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while True:
        left = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        try:
            data = engine.output(args.slot, timeout=0 if args.nowait else left)
        except EOFError:
            print("(EOF)")
            return 0
        if data is not None:
            _print_record(data)
            if not args.cont:
                return 0
        elif args.nowait:
            return 0
        if deadline is not None and time.monotonic() >= deadline:
            print("(no more records before the timeout)", file=sys.stderr)
            return 0


def _print_record(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        print(hexdump(data))
        return
    print(text[:-1] if text.endswith("\n") else text, flush=True)


def _stream_attach(args: argparse.Namespace) -> int:
    engine = _remote_engine(args)
    stream = _stream(args, args.name)
    engine.attach_stream(stream, args.slot)
    print(f"Stream '{stream.name}' attached to slot {args.slot}")
    return 0


def _stream_detach(args: argparse.Namespace) -> int:
    engine = _remote_engine(args)
    engine.detach_stream(args.slot)
    print(f"Stream on slot {args.slot} detached")
    return 0


def _is_literal(text: str) -> bool:
    from . import descriptor

    return descriptor.is_literal(text)


# -- schema commands -----------------------------------------------------------------------------
def _schema_add(args: argparse.Namespace) -> int:
    from .schema import Schema

    lib = _library(args, create=True)
    text = _read_source(args.source)
    try:
        avro = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FastScoreError(
            f"the schema is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    lib.schemas[args.name] = Schema(args.name, avro, library=lib)
    print(f"Schema '{args.name}' added")
    return 0


def _schema_show(args: argparse.Namespace) -> int:
    _print_json(_library(args).schemas[args.name].avro)
    return 0


def _schema_verify(args: argparse.Namespace) -> int:
    schema = _library(args).schemas[args.name]
    print("Schema OK")
    if args.datafile is None:
        return 0
    lines = [line for line in _read_source(args.datafile).splitlines() if line.strip()]
    failed = 0
    for line, (status, message) in zip(lines, schema.verify_data(lines)):
        print(f"{status:<4} {line}")
        if message:
            print(f"     {message}")
        failed += status != "OK"
    return 1 if failed else 0


def _schema_infer(args: argparse.Namespace) -> int:
    from .schema import Schema

    path = Path(args.file)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "json")
    schema = Schema.infer_from_file(path, format=fmt, name=args.name or _record_name(path))
    _print_json(schema.avro)
    return 0


def _record_name(path: Path) -> str:
    stem = "".join(ch if ch.isalnum() else "_" for ch in path.stem.split(".")[0]) or "record"
    return stem if not stem[0].isdigit() else f"r_{stem}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
