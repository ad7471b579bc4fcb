"""The ``fastscore`` command: the seed's commands over a local library and the embedded engine.

Each command is a thin shell over the Python API (DESIGN §2): it parses arguments, calls the
library, and prints. Errors from the SDK print one line (``Error: ...``) and exit with status 1;
usage errors exit with status 2.

The library is ``--library PATH``, else ``$FASTSCORE_LIBRARY``, else ``./library``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import FastScoreError

__all__ = ["main"]

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

    c = groups.add_parser("run", help="run a model over streams in the embedded engine")
    c.add_argument("model", help="library name or model file")
    c.add_argument(
        "streams", nargs="+", metavar="STREAM", help="streams for slots 0, 1, ... (names or literals)"
    )
    c.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    c.add_argument("--progress", action="store_true", help="show a progress bar")
    c.set_defaults(handler=_run)
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
    engine = Engine()
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
