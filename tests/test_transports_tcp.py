"""The tcp transport against real local TCP servers: conformance, connection errors, resets, timeouts,
and end-to-end streams and engine runs in both directions."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.network import TCPTestServer, free_port
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.tcp import TCPTransport

Factory = Callable[..., TCPTestServer]


def tcp(port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    return {"type": "tcp", "host": host, "port": port}


def closed_port() -> int:
    return free_port(socket.SOCK_STREAM)


class TestTCP(TransportConformance):
    @pytest.fixture(autouse=True)
    def _servers(self, tcp_server: Factory) -> None:
        self.new_server = tcp_server
        self.collectors: dict[int, TCPTestServer] = {}

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        return tcp(self.new_server(send=payload).port)

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        srv = self.new_server()
        self.collectors[srv.port] = srv
        return tcp(srv.port)

    def read_back(self, spec: dict[str, Any], sink: Sink) -> bytes:
        return self.collectors[spec["port"]].wait_received(1)[0]

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return tcp(self.new_server(send=b"late", hold=30).port)

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return tcp(closed_port())

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return tcp(closed_port())


def test_connection_refused_names_host_port_and_hint() -> None:
    port = closed_port()
    with pytest.raises(TransportError) as info:
        open_transport(tcp(port), stream="feed").source()
    message = str(info.value)
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in message
    assert "stream 'feed'" in message and "tcp transport" in message
    assert "client" in message and "Transport.Port" in message
    with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
        open_transport(tcp(port), stream="feed").sink()


def test_unknown_host() -> None:
    with pytest.raises(TransportError, match=r"unknown host 'no-such-host\.invalid'"):
        open_transport(tcp(5678, host="no-such-host.invalid"), stream="feed").source()


@pytest.mark.parametrize("port", [0, 70000, "80", True, None])
def test_bad_port_is_refused_when_built(port: Any) -> None:
    with pytest.raises(TransportError, match="Port must be a number from 1 to 65535"):
        open_transport({"type": "tcp", "host": "127.0.0.1", "port": port}, stream="feed")


def test_any_address_means_this_machine(tcp_server: Factory) -> None:
    srv = tcp_server(send=b"1\n")
    t = open_transport(tcp(srv.port, host="0.0.0.0"), stream="feed")
    assert isinstance(t, TCPTransport) and t.address == ("127.0.0.1", srv.port)
    with t.source() as src:
        assert b"".join(src) == b"1\n"


def test_read_returns_what_arrived(tcp_server: Factory) -> None:
    srv = tcp_server(send=b"first\n")
    with open_transport(tcp(srv.port), stream="feed").source() as src:
        got = src.read(timeout=2.0)
        assert got == [b"first\n"]
        assert src.read(timeout=2.0) is None
        assert src.bytes_read == 6


def test_read_blocks_until_data_with_no_timeout(tcp_server: Factory) -> None:
    srv = tcp_server(send=b"x", hold=0.3)
    with open_transport(tcp(srv.port), stream="feed").source() as src:
        start = time.monotonic()
        assert src.read(timeout=None) == [b"x"]
        assert time.monotonic() - start >= 0.2


def test_reset_by_the_server_is_an_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"partial\n")
        time.sleep(0.1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    src = open_transport(tcp(port), stream="feed").source()
    got = b""
    with pytest.raises(TransportError) as info:
        while (items := src.read(timeout=5)) is not None:
            got += b"".join(items)
    assert got == b"partial\n"
    assert "reset the connection" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
    with pytest.raises(TransportError):
        src.read(timeout=0)
    src.close()
    thread.join()
    listener.close()


def test_abort_resets_the_connection(tcp_server: Factory) -> None:
    srv = tcp_server()
    sink = open_transport(tcp(srv.port), stream="out").sink()
    sink.write([b"1\n"])
    sink.abort()
    srv.wait_received(1)
    assert srv.resets == 1


def test_clean_close_is_not_a_reset(tcp_server: Factory) -> None:
    srv = tcp_server()
    with open_transport(tcp(srv.port), stream="out").sink() as sink:
        sink.write([b"1\n", b"2\n"])
    assert srv.wait_received(1) == [b"1\n2\n"]
    assert srv.resets == 0
    assert sink.bytes_written == 4


def test_writing_to_a_server_that_went_away_fails() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sink = open_transport(tcp(port), stream="out").sink()
    conn, _ = listener.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    listener.close()
    time.sleep(0.05)
    with pytest.raises(TransportError) as info:
        for _ in range(100):
            sink.write([b"x" * 65536])
    assert "server closed the connection" in str(info.value) and "stream 'out'" in str(info.value)
    sink.abort()


def test_rewind_and_skip_are_refused(tcp_server: Factory) -> None:
    srv = tcp_server(send=b"1\n")
    t = open_transport(tcp(srv.port), stream="feed")
    with pytest.raises(TransportError, match="not seekable"):
        t.source(skip_to=1)
    with t.source() as src, pytest.raises(TransportError, match="not seekable"):
        src.rewind()


# -------------------------------------------------------------------------------------- end to end

RECORDS = [{"id": i, "x": i * 0.5} for i in range(20)]
NDJSON = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS)


def test_sample_newline_delimited_json(tcp_server: Factory) -> None:
    srv = tcp_server(send=NDJSON)
    stream = fs.Stream(
        "feed", {"Transport": {"Type": "TCP", "Host": "127.0.0.1", "Port": srv.port}, "Encoding": "json"}
    )
    assert stream.verify()["envelope"] == {"type": "delimited", "separator": "\n"}
    sample = stream.sample(5)
    assert sample.records == RECORDS[:5]
    assert list(sample.to_pandas()["id"]) == [0, 1, 2, 3, 4]


def test_sample_literal(tcp_server: Factory) -> None:
    srv = tcp_server(send=NDJSON)
    assert fs.Stream(f"tcp:127.0.0.1:{srv.port}").sample(100).records == RECORDS
    srv2 = tcp_server(send=b"1\n2\n")
    assert fs.Stream(f"tcp::{srv2.port}").sample(100).records == [1, 2]


def test_stream_writer_writes_delimited_records(tcp_server: Factory) -> None:
    srv = tcp_server()
    with fs.Stream(f"tcp:127.0.0.1:{srv.port}").open_writer() as w:
        w.write({"a": 1})
        w.write({"a": 2})
    assert srv.wait_received(1) == [b'{"a":1}\n{"a":2}\n']


def test_engine_reads_and_writes_tcp(tcp_server: Factory) -> None:
    source = tcp_server(send=NDJSON)
    collector = tcp_server()
    model = fs.Model("halve", "def action(r):\n    yield {'id': r['id'], 'y': r['x'] / 2}\n")
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, f"tcp:127.0.0.1:{source.port}", f"tcp:127.0.0.1:{collector.port}").wait(
            timeout=20
        )
        assert state == "FINISHED", eng.last_error
        assert int(eng.stats().loc[1, "records"]) == len(RECORDS)
    (received,) = collector.wait_received(1)
    lines = received.split(b"\n")
    assert lines[-1] == b""  # every record is delimited, the last one too
    assert [json.loads(line) for line in lines[:-1]] == [{"id": r["id"], "y": r["x"] / 2} for r in RECORDS]
    assert collector.resets == 0


def test_engine_with_csv_over_tcp(tcp_server: Factory, tmp_path: Path) -> None:
    srv = tcp_server(send=b"id,name\r\n1,ann\r\n2,bob\r\n")
    desc = {"Transport": {"Type": "TCP", "Host": "127.0.0.1", "Port": srv.port}, "Encoding": "csv"}
    out = tmp_path / "names.jsons"
    model = fs.Model("names", "def action(r):\n    yield r['name']\n")
    with fs.Engine(echo_console=False) as eng:
        assert eng.run(model, fs.Stream("people", desc), f"file:{out}").wait(timeout=20) == "FINISHED"
    assert out.read_text().split() == ['"ann"', '"bob"']


def test_engine_reports_a_refused_output(tmp_path: Path) -> None:
    port = closed_port()
    model = fs.Model("id", "def action(x):\n    yield x\n")
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, "inline:1,2", f"tcp:127.0.0.1:{port}").wait(timeout=20)
        assert state == "ERROR"
        assert f"127.0.0.1:{port}" in str(eng.last_error) and "refused" in str(eng.last_error)
