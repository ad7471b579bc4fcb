"""Library: a local Model Manage in a folder or in memory."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from fastscore_sdk.errors import DescriptorError, FastScoreError, SchemaError
from fastscore_sdk.library import Library, LibraryKeyError
from fastscore_sdk.schema import Schema

PRICE = {"type": "record", "name": "tick", "fields": [{"name": "price", "type": "double"}]}
FILE_STREAM = {"Transport": {"Type": "file", "Path": "/data/in.jsons"}, "Encoding": "json"}
S3_STREAM = {
    "Transport": {
        "Type": "S3",
        "Bucket": "b",
        "ObjectKey": "k",
        "AccessKeyID": "secret://AccessKeyID",
        "SecretAccessKey": "wJalrXUtnFEMI-plain",
    },
    "Encoding": "json",
}
ECHO = "# fastscore.schema.0: double\n# fastscore.schema.1: double\ndef action(x):\n    yield x\n"


def _stream_cls():
    try:
        from fastscore_sdk.stream import Stream
    except ImportError as err:  # the stream module is optional for the library's own tests
        pytest.skip(f"fastscore_sdk.stream is not importable: {err}")
    return Stream


def _model_cls():
    try:
        from fastscore_sdk.model import Model
    except ImportError as err:
        pytest.skip(f"fastscore_sdk.model is not importable: {err}")
    return Model


@pytest.fixture(params=["folder", "memory"])
def lib(request, tmp_path):
    return Library(tmp_path / "library") if request.param == "folder" else Library()


def _archive(path, name="data.txt", content=b"1234\n"):
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return path


# --------------------------------------------------------------------------- schemas


def test_schema_round_trip(lib):
    lib.schemas["tick"] = Schema("tick", PRICE)
    lib.schemas["price"] = "double"
    lib.schemas["volume"] = {"type": "long"}
    assert lib.schemas.names() == ["price", "tick", "volume"]
    assert list(lib.schemas) == ["price", "tick", "volume"] and len(lib.schemas) == 3
    assert "tick" in lib.schemas and "nope" not in lib.schemas and "../x" not in lib.schemas
    got = lib.schemas["tick"]
    assert isinstance(got, Schema) and got.avro == PRICE and got.name == "tick"
    assert lib.schemas["price"].avro == "double"
    del lib.schemas["price"]
    assert lib.schemas.names() == ["tick", "volume"]
    with pytest.raises(SchemaError):
        lib.schemas["broken"] = {"type": "record", "name": "r"}
    assert "broken" not in lib.schemas


def test_schema_files_keep_refs_and_resolve_through_the_folder(tmp_path):
    lib = Library(tmp_path)
    lib.schemas["price"] = "double"
    lib.schemas["tick"] = json.dumps(
        {"type": "record", "name": "tick", "fields": [{"name": "p", "type": {"$ref": "price"}}]}
    )
    saved = json.loads((tmp_path / "schemas" / "tick.avsc").read_text())
    assert saved["fields"][0]["type"] == {"$ref": "price"}
    assert json.loads((tmp_path / "schemas" / "price.avsc").read_text()) == "double"
    assert lib.schemas["tick"].avro["fields"][0]["type"] == "double"
    # a file written by hand (another tool, git checkout) is picked up as it is
    (tmp_path / "schemas" / "hand.avsc").write_text('{"type": "array", "items": {"$ref": "tick"}}\n')
    assert lib.schemas["hand"].avro["items"]["name"] == "tick"


def test_schema_ref_cycle_between_files(tmp_path):
    lib = Library(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "a.avsc").write_text('{"type": "array", "items": {"$ref": "b"}}')
    (tmp_path / "schemas" / "b.avsc").write_text('{"type": "map", "values": {"$ref": "a"}}')
    with pytest.raises(SchemaError, match=r"cycle a -> b -> a"):
        lib.schemas["a"]


# --------------------------------------------------------------------------- streams


def test_stream_descriptor_saved_as_pretty_json(tmp_path):
    lib = Library(tmp_path)
    lib.streams["in"] = FILE_STREAM
    text = (tmp_path / "streams" / "in.json").read_text()
    assert json.loads(text) == FILE_STREAM
    assert text.startswith('{\n  "Transport"') and text.endswith("}\n")
    assert lib.streams.names() == ["in"]


def test_stream_round_trip(lib):
    Stream = _stream_cls()
    lib.streams["in"] = FILE_STREAM
    lib.streams["copy"] = Stream("copy", FILE_STREAM, library=lib)
    got = lib.streams["in"]
    assert isinstance(got, Stream)
    assert got.name == "in" and got.desc == FILE_STREAM
    assert lib.streams["copy"].desc == FILE_STREAM
    assert lib.streams.names() == ["copy", "in"]
    del lib.streams["copy"]
    assert "copy" not in lib.streams


def test_plaintext_secrets_are_refused_on_disk(tmp_path):
    lib = Library(tmp_path)
    with pytest.raises(DescriptorError) as info:
        lib.streams["s3-in"] = S3_STREAM
    message = str(info.value)
    assert "Transport.SecretAccessKey" in message and "secret://" in message
    assert "wJalrXUtnFEMI" not in message  # never the secret itself
    assert not (tmp_path / "streams" / "s3-in.json").exists()
    safe = json.loads(json.dumps(S3_STREAM))
    safe["Transport"]["SecretAccessKey"] = "secret://SecretAccessKey"
    lib.streams["s3-in"] = safe
    assert "s3-in" in lib.streams
    Library(tmp_path, allow_plaintext_secrets=True).streams["s3-raw"] = S3_STREAM
    assert (tmp_path / "streams" / "s3-raw.json").exists()


def test_in_memory_streams_may_hold_secrets():
    lib = Library()
    lib.streams["s3-in"] = S3_STREAM  # nothing is written anywhere
    assert "s3-in" in lib.streams


# --------------------------------------------------------------------------- models and attachments


class _FakeModel:
    def __init__(self, source, mtype):
        self.source, self.mtype = source, mtype


def test_model_files_by_type(tmp_path):
    lib = Library(tmp_path)
    lib.models["echo"] = _FakeModel(ECHO, "python3")
    assert (tmp_path / "models" / "echo.py3").read_text() == ECHO
    lib.models["echo"] = _FakeModel(ECHO, "python")  # the type changed: the old file goes
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["echo.py"]
    lib.models["raw"] = ECHO
    assert (tmp_path / "models" / "raw.py3").exists()
    assert lib.models.names() == ["echo", "raw"]
    with pytest.raises(ValueError, match="unknown model type 'cobol'"):
        lib.models["x"] = _FakeModel(ECHO, "cobol")
    with pytest.raises(TypeError, match="source"):
        lib.models["x"] = 42
    del lib.models["echo"]
    assert lib.models.names() == ["raw"]


def test_model_round_trip(lib, tmp_path):
    Model = _model_cls()
    lib.models["echo"] = Model("echo", ECHO, library=lib)
    got = lib.models["echo"]
    assert isinstance(got, Model) and got.source == ECHO and got.name == "echo"
    assert got.score([1.5]) == [1.5]
    lib.models["src"] = ECHO
    assert lib.models["src"].source == ECHO


def test_model_loads_with_its_attachments(tmp_path):
    Model = _model_cls()
    lib = Library(tmp_path / "lib")
    lib.models["emit"] = "def action(x):\n    yield open('data.txt').read()\n"
    lib.add_attachment("emit", _archive(tmp_path / "att.tar.gz"))
    model = lib.models["emit"]
    assert isinstance(model, Model)
    assert model.score(["x"]) == ["1234\n"]


def test_attachments(lib, tmp_path):
    a = tmp_path / "a.tar.gz"
    a.write_bytes(b"A")
    b = tmp_path / "b.zip"
    b.write_bytes(b"B")
    copied = lib.add_attachment("iris", a)
    assert copied.read_bytes() == b"A" and copied != a
    assert [p.name for p in lib.attachments["iris"]] == ["a.tar.gz"]
    lib.attachments["iris"] = [b]  # replaces the set
    assert [p.name for p in lib.attachments["iris"]] == ["b.zip"]
    assert lib.attachments.names() == ["iris"] and "iris" in lib.attachments
    del lib.attachments["iris"]
    assert "iris" not in lib.attachments
    with pytest.raises(FileNotFoundError, match=r"missing\.tgz"):
        lib.add_attachment("iris", tmp_path / "missing.tgz")
    with pytest.raises(LibraryKeyError):
        del lib.attachments["iris"]


# --------------------------------------------------------------------------- errors, names, atomicity


def test_missing_names_raise_keyerror_with_context(tmp_path):
    lib = Library(tmp_path)
    lib.schemas["a"] = "int"
    lib.schemas["b"] = "long"
    with pytest.raises(KeyError) as info:
        lib.schemas["x"]
    err = info.value
    assert isinstance(err, FastScoreError) and isinstance(err, LibraryKeyError)
    assert str(err).startswith(f"schema 'x' not found in library {tmp_path} (known: a, b)")
    with pytest.raises(KeyError, match=r"stream 'nope' not found in the in-memory library \(known: none\)"):
        Library().streams["nope"]
    with pytest.raises(KeyError):
        del lib.schemas["x"]
    assert lib.schemas.get("x") is None


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "a..b", "-x", "x" * 201, 5])
def test_bad_names_are_refused(lib, name):
    with pytest.raises(ValueError, match="a name is a file stem"):
        lib.schemas[name] = "int"
    with pytest.raises(ValueError, match="invalid stream name"):
        lib.streams[name]


def test_attachment_file_names_are_checked(tmp_path):
    odd = tmp_path / ".secret"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid attachment name"):
        Library().add_attachment("m", odd)


def test_saves_are_atomic(tmp_path, monkeypatch):
    lib = Library(tmp_path)
    lib.schemas["p"] = "double"
    target = tmp_path / "schemas" / "p.avsc"
    before = target.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        lib.schemas["p"] = "long"
    assert target.read_text() == before  # the old file is whole
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == ["p.avsc"]  # no temp file left
    monkeypatch.undo()
    lib.schemas["p"] = "long"
    assert lib.schemas["p"].avro == "long"


def test_folder_listing_ignores_other_files(tmp_path):
    lib = Library(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "ok.avsc").write_text('"int"')
    (tmp_path / "schemas" / ".ok.avsc.x1.tmp").write_text("partial")
    (tmp_path / "schemas" / "notes.txt").write_text("x")
    (tmp_path / "schemas" / "dir.avsc").mkdir()
    assert lib.schemas.names() == ["ok"]
    assert Library(tmp_path / "does-not-exist").schemas.names() == []


def test_library_path_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        Library(f)


def test_repr_and_in_memory(tmp_path):
    assert repr(Library()) == "Library(in memory)" and Library().in_memory
    lib = Library(tmp_path)
    lib.schemas["a"] = "int"
    assert repr(lib) == f"Library({str(tmp_path)!r})" and not lib.in_memory
    assert "1 (a)" in repr(lib.schemas)


def test_default_library(tmp_path, monkeypatch):
    monkeypatch.setattr(Library, "_default", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTSCORE_LIBRARY", raising=False)
    assert Library.default().in_memory
    assert Library.default() is Library.default()

    Library.set_default(None)
    (tmp_path / "library").mkdir()
    assert Library.default().path == tmp_path / "library"

    Library.set_default(None)
    monkeypatch.setenv("FASTSCORE_LIBRARY", str(tmp_path / "elsewhere"))
    assert Library.default().path == tmp_path / "elsewhere"

    mine = Library()
    Library.set_default(mine)
    mine.schemas["close_price"] = "double"
    assert Schema("c", {"$ref": "close_price"}).avro == "double"  # $ref falls back to the session library
