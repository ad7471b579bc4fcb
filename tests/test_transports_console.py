"""The console transport: conformance suite plus targets, redirection and the bounded line buffer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.console import (
    ConsoleSink,
    ConsoleTransport,
    redirect_console,
    set_console_target,
)


class TestConsole(TransportConformance):
    supports_input = False
    preserves_boundaries = True

    def payload(self) -> list[bytes]:
        # Text only: the console shows text, so bytes that are not UTF-8 do not come back unchanged.
        return [b"1", b'{"x": 1.5}', "é☃ data".encode(), b"m" * 5000]

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "console"}

    def read_back(self, spec: dict[str, Any], sink: Sink) -> list[bytes]:
        assert isinstance(sink, ConsoleSink)
        return [line.encode() for line in sink.lines]


def test_prints_one_line_per_item(capsys: pytest.CaptureFixture[str]) -> None:
    with open_transport({"type": "console"}, stream="out").sink() as sink:
        sink.write([b'{"a":1}', b"2\n"])
    assert capsys.readouterr().out == '{"a":1}\n2\n'
    assert list(sink.lines) == ['{"a":1}', "2"]
    assert (sink.items_written, sink.bytes_written) == (2, 9)


def test_binary_is_shown_with_replacement(capsys: pytest.CaptureFixture[str]) -> None:
    sink = open_transport({"type": "console"}).sink()
    sink.write([b"ok \xff\xfe"])
    assert capsys.readouterr().out == "ok \ufffd\ufffd\n"


def test_target_receives_the_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[bytes] = []
    sink = ConsoleTransport({"type": "console"}, target=got.append).sink()
    sink.write([b"\xff", b"x"])
    assert got == [b"\xff", b"x"]
    assert capsys.readouterr().out == ""
    assert list(sink.lines) == ["\ufffd", "x"]


def test_module_target_redirects_every_console(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[bytes] = []
    sink = open_transport({"type": "console"}).sink()
    with redirect_console(got.append):
        sink.write([b"during"])
    sink.write([b"after"])
    assert got == [b"during"]
    assert capsys.readouterr().out == "after\n"


def test_own_target_wins_over_the_module_target() -> None:
    mine: list[bytes] = []
    module: list[bytes] = []
    previous = set_console_target(module.append)
    try:
        ConsoleTransport({"type": "console"}, target=mine.append).sink().write([b"1"])
    finally:
        assert set_console_target(previous) == module.append
    assert mine == [b"1"] and module == []


def test_lines_are_bounded() -> None:
    sink = ConsoleTransport({"type": "console"}, target=lambda _: None, max_lines=3).sink()
    sink.write([str(i).encode() for i in range(10)])
    assert list(sink.lines) == ["7", "8", "9"]
    assert sink.items_written == 10


def test_reading_is_refused_with_a_hint() -> None:
    with pytest.raises(TransportError) as info:
        open_transport({"type": "console"}, stream="shown").source()
    message = str(info.value)
    assert "stream 'shown'" in message and "console is output only" in message and "odd slot" in message
