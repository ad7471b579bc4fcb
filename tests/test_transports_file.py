"""The file transport: conformance suite plus chunking, SkipTo, paths and error messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink, Transport
from fastscore_sdk.transports.file import DEFAULT_CHUNK_SIZE, FileTransport


class TestFile(TransportConformance):
    seekable = True

    def make_transport(self, spec: dict[str, Any]) -> Transport:
        # A small chunk size makes the suite cross many chunk boundaries.
        return open_transport(spec, stream=self.stream_name, chunk_size=4096)

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        path = tmp_path / "in.bin"
        path.write_bytes(payload)
        return {"type": "file", "path": str(path)}

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "file", "path": str(tmp_path / "out.bin")}

    def read_back(self, spec: dict[str, Any], sink: Sink) -> bytes:
        return Path(spec["path"]).read_bytes()

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "file", "path": str(tmp_path / "missing.jsons")}

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "file", "path": str(tmp_path / "no-such-folder" / "out.jsons")}


def _file(tmp_path: Path, data: bytes, name: str = "in.jsons") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_chunks_are_chunk_size_bytes(tmp_path: Path) -> None:
    path = _file(tmp_path, b"0123456789" * 2 + b"abc")
    src = FileTransport({"type": "file", "path": str(path)}, chunk_size=5).source()
    chunks = []
    while (items := src.read()) is not None:
        chunks.extend(items)
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    assert b"".join(chunks) == path.read_bytes()
    assert src.bytes_read == 23
    src.close()


def test_default_chunk_is_one_mebibyte(tmp_path: Path) -> None:
    data = os.urandom(DEFAULT_CHUNK_SIZE * 2 + 17)
    path = _file(tmp_path, data, "big.bin")
    with open_transport({"type": "file", "path": str(path)}).source() as src:
        chunks = list(src)
    assert [len(c) for c in chunks] == [DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, 17]
    assert b"".join(chunks) == data


def test_skip_to_is_a_byte_offset(tmp_path: Path) -> None:
    path = _file(tmp_path, b"1\n22\n333\n")
    with FileTransport({"type": "file", "path": str(path)}).source(skip_to=2) as src:
        assert b"".join(src) == b"22\n333\n"


def test_rewind_goes_back_to_the_start_not_to_skip_to(tmp_path: Path) -> None:
    path = _file(tmp_path, b"abcdef")
    with FileTransport({"type": "file", "path": str(path)}).source(skip_to=3) as src:
        assert b"".join(src) == b"def"
        src.rewind()
        assert b"".join(src) == b"abcdef"


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True])
def test_skip_to_must_be_a_byte_offset(tmp_path: Path, bad: Any) -> None:
    path = _file(tmp_path, b"x")
    with pytest.raises(TransportError, match="SkipTo must be a byte offset"):
        FileTransport({"type": "file", "path": str(path)}, stream="in").source(skip_to=bad)


def test_skip_to_record_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, b"x")
    with pytest.raises(TransportError, match="byte stream"):
        FileTransport({"type": "file", "path": str(path)}, stream="in").source(skip_to_record=2)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsons"
    with pytest.raises(TransportError) as info:
        open_transport({"type": "file", "path": str(missing)}, stream="iris-in").source()
    message = str(info.value)
    assert "stream 'iris-in'" in message
    assert str(missing) in message
    assert "no such file" in message
    assert "check the path (relative paths resolve against" in message
    assert isinstance(info.value, OSError)


def test_missing_relative_file_names_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TransportError) as info:
        open_transport({"type": "file", "path": "data/in.jsons"}, stream="s").source()
    message = str(info.value)
    assert "'data/in.jsons'" in message
    assert f"relative paths resolve against {tmp_path}" in message


def test_relative_path_resolves_when_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _file(tmp_path, b"rel\n", "rel.jsons")
    monkeypatch.chdir(tmp_path)
    transport = FileTransport({"type": "file", "path": "rel.jsons"})
    monkeypatch.chdir("/")
    with transport.source() as src:
        assert b"".join(src) == b"rel\n"


def test_unicode_path(tmp_path: Path) -> None:
    folder = tmp_path / "données ☃"
    folder.mkdir()
    path = folder / "entrée é.jsons"
    transport = FileTransport({"type": "file", "path": str(path)}, stream="ü")
    with transport.sink() as sink:
        sink.write(['{"é": 1}\n'.encode()])
    with transport.source() as src:
        assert b"".join(src).decode() == '{"é": 1}\n'


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="is a directory"):
        FileTransport({"type": "file", "path": str(tmp_path)}, stream="s").source()


def test_no_path(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="no path given"):
        open_transport({"type": "file"}, stream="s")


def test_chunk_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        FileTransport({"type": "file", "path": "x"}, chunk_size=0)


def test_sink_truncates_an_existing_file(tmp_path: Path) -> None:
    path = _file(tmp_path, b"old contents that are long\n", "out.jsons")
    with FileTransport({"type": "file", "path": str(path)}).sink() as sink:
        sink.write([b"new\n"])
    assert path.read_bytes() == b"new\n"


def test_sink_missing_folder_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "missing"
    with pytest.raises(TransportError) as info:
        FileTransport({"type": "file", "path": str(folder / "out.jsons")}, stream="out").sink()
    assert f"the folder {str(folder)!r} does not exist" in str(info.value)
    assert not folder.exists()


def test_abort_keeps_what_was_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out.jsons"
    sink = FileTransport({"type": "file", "path": str(path)}, stream="out").sink()
    sink.write([b"1\n", b"2\n"])
    with caplog.at_level("WARNING", logger="fastscore_sdk.transports.file"):
        sink.abort()
    assert path.read_bytes() == b"1\n2\n"
    assert "first 4 bytes" in caplog.text
    assert sink.bytes_written == 4


def test_read_after_close_fails(tmp_path: Path) -> None:
    path = _file(tmp_path, b"x")
    src = FileTransport({"type": "file", "path": str(path)}, stream="s").source()
    src.close()
    with pytest.raises(TransportError, match="after it was closed"):
        src.read()
