"""The udp transport with real datagrams on 127.0.0.1: conformance, bind errors, waiting, and
end-to-end samples and engine runs (ended by an ``end`` control record or by ``stop()``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import DescriptorError, TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.network import UDPSender, free_port
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink, Transport
from fastscore_sdk.transports.udp import UDPSource, UDPTransport


def udp(port: int, bind_to: str = "127.0.0.1") -> dict[str, Any]:
    return {"type": "udp", "bind_to": bind_to, "port": port}


class _SendOnOpen(UDPTransport):
    """Sends the test's datagrams as soon as the port is bound: one sent earlier would be lost."""

    def __init__(self, spec: dict[str, Any], *, stream: str, payload: list[bytes], sender: UDPSender):
        super().__init__(spec, stream=stream)
        self.payload = payload
        self.sender = sender

    def source(self, **kwargs: Any) -> UDPSource:
        src = super().source(**kwargs)
        self.sender.send(src.address[1], self.payload)
        return src


class TestUDP(TransportConformance):
    supports_output = False
    preserves_boundaries = True
    seekable = False
    source_ends = False

    @pytest.fixture(autouse=True)
    def _sender(self, udp_sender: UDPSender) -> Iterator[None]:
        self.sender = udp_sender
        self.pending: dict[int, list[bytes]] = {}
        self.blockers: list[socket.socket] = []
        yield
        for s in self.blockers:
            s.close()

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        port = free_port()
        self.pending[port] = payload
        return udp(port)

    def make_transport(self, spec: dict[str, Any]) -> Transport:
        payload = self.pending.pop(spec.get("port"), None)
        if payload is None:
            return open_transport(spec, stream=self.stream_name)
        return _SendOnOpen(spec, stream=self.stream_name, payload=payload, sender=self.sender)

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return udp(free_port())

    def read_back(self, spec: dict[str, Any], sink: Sink) -> None:
        return None

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return udp(free_port())

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 0))
        self.blockers.append(blocker)
        return udp(blocker.getsockname()[1])


# ------------------------------------------------------------------------------------- transport


def test_each_datagram_is_one_message(udp_sender: UDPSender) -> None:
    with open_transport(udp(0), stream="in").source() as src:
        port = src.address[1]
        udp_sender.send(port, [b'{"a":1}', b'{"a":\n2}', b"", b"x" * 60_000])
        got: list[bytes] = []
        deadline = time.monotonic() + 5
        while len(got) < 4 and time.monotonic() < deadline:
            got += src.read(timeout=0.5)
        assert got == [b'{"a":1}', b'{"a":\n2}', b"", b"x" * 60_000]
        assert src.datagrams_read == 4


def test_read_never_ends_by_itself(udp_port: int) -> None:
    with open_transport(udp(udp_port), stream="in").source() as src:
        assert src.read(timeout=0) == []
        assert src.read(timeout=0.05) == []


def test_read_without_timeout_waits_for_a_datagram(udp_sender: UDPSender) -> None:
    with open_transport(udp(0), stream="in").source() as src:
        timer = threading.Timer(0.3, udp_sender.send, args=(src.address[1], [b"late"]))
        timer.start()
        start = time.monotonic()
        assert src.read(timeout=None) == [b"late"]
        assert time.monotonic() - start >= 0.2
        timer.join()


def test_port_in_use_names_the_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        with pytest.raises(TransportError) as info:
            open_transport(udp(port), stream="feed").source()
    message = str(info.value)
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in message
    assert "stream 'feed'" in message and "udp transport" in message


def test_bind_to_a_foreign_address() -> None:
    with pytest.raises(TransportError) as info:
        open_transport(udp(free_port(), bind_to="203.0.113.7"), stream="feed").source()
    assert "203.0.113.7 is not an address of this machine" in str(info.value)
    assert "0.0.0.0" in str(info.value)


def test_port_is_freed_on_close(udp_port: int) -> None:
    t = open_transport(udp(udp_port), stream="in")
    t.source().close()
    with t.source() as src:
        assert src.address == ("127.0.0.1", udp_port)


@pytest.mark.parametrize("port", [-1, 65536, "9099", None])
def test_bad_port(port: Any) -> None:
    with pytest.raises(TransportError, match="Port must be a number"):
        open_transport({"type": "udp", "bind_to": "127.0.0.1", "port": port}, stream="in")


def test_default_bind_address_is_every_interface() -> None:
    t = open_transport({"type": "udp", "port": 9099}, stream="in")
    assert isinstance(t, UDPTransport) and t.bind_to == "0.0.0.0"


# --------------------------------------------------------------------------------------- streams


def test_output_is_refused(udp_port: int) -> None:
    with pytest.raises(TransportError) as info:
        fs.Stream(f"udp::{udp_port}").open_writer()
    message = str(info.value)
    assert "input only" in message and f"udp::{udp_port}" in message
    with pytest.raises(DescriptorError, match="input only"):
        fs.Stream(f"udp::{udp_port}").verify(slot=1)
    model = fs.Model("id", "def action(x):\n    yield x\n")
    with fs.Engine(echo_console=False) as eng, pytest.raises(DescriptorError, match="input only"):
        eng.run(model, "inline:1", f"udp::{udp_port}")


def test_framing_is_refused(udp_port: int) -> None:
    desc = {"Transport": {"Type": "UDP", "BindTo": "127.0.0.1", "Port": udp_port}, "Envelope": "delimited"}
    with pytest.raises(DescriptorError, match="Envelope"):
        fs.Stream("feed", desc).verify()


def test_sample_one_record_per_datagram(udp_port: int, udp_sender: UDPSender) -> None:
    stream = fs.Stream(f"udp:127.0.0.1:{udp_port}")
    assert stream.verify()["envelope"] is None
    udp_sender.send_when_bound(udp_port, [b'{"a":1}', b'{"a":\n 2}', b'{"a":3}'], background=True)
    sample = stream.sample(3, timeout=10)
    assert sample.records == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert list(sample.to_pandas()["a"]) == [1, 2, 3]


def test_sample_times_out_with_what_arrived(udp_port: int, udp_sender: UDPSender) -> None:
    udp_sender.send_when_bound(udp_port, [b'{"a":1}'], background=True)
    start = time.monotonic()
    sample = fs.Stream(f"udp:127.0.0.1:{udp_port}").sample(5, timeout=1.0)
    assert sample.records == [{"a": 1}]
    assert 0.9 <= time.monotonic() - start < 3.0


def test_end_control_record_ends_a_udp_stream(udp_port: int, udp_sender: UDPSender) -> None:
    desc = {
        "Transport": {"Type": "UDP", "BindTo": "127.0.0.1", "Port": udp_port},
        "Envelope": None,
        "Encoding": "json",
    }
    udp_sender.send_when_bound(udp_port, [b'{"a":1}', b'{"$fastscore":"end"}', b'{"a":2}'], background=True)
    assert list(fs.Stream("feed", desc).read()) == [{"a": 1}]


def test_engine_run_ends_with_an_end_record(udp_port: int, udp_sender: UDPSender, tmp_path: Path) -> None:
    out = tmp_path / "out.jsons"
    model = fs.Model("inc", "def action(r):\n    yield r['a'] + 1\n")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, f"udp:127.0.0.1:{udp_port}", f"file:{out}")
        udp_sender.send_when_bound(udp_port, [b'{"a":1}'] * 3 + [b'{"$fastscore":"end"}'])
        assert eng.wait(timeout=20) == "FINISHED", eng.last_error
        assert int(eng.stats().loc[0, "records"]) == 3
    assert out.read_text().split() == ["2", "2", "2"]


def test_engine_stop_ends_a_udp_run(udp_port: int, udp_sender: UDPSender, tmp_path: Path) -> None:
    out = tmp_path / "out.jsons"
    model = fs.Model("inc", "def action(r):\n    yield r['a'] + 1\n")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, f"udp:127.0.0.1:{udp_port}", f"file:{out}")
        udp_sender.send_when_bound(udp_port, [b'{"a":1}', b'{"a":2}'])
        deadline = time.monotonic() + 10
        while int(eng.stats().loc[1, "records"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert eng.state == "RUNNING"  # UDP does not end by itself
        eng.stop()
        assert eng.wait(timeout=10) == "FINISHED", eng.last_error
    assert out.read_text().split() == ["2", "3"]


def test_engine_reports_a_port_in_use(tmp_path: Path) -> None:
    model = fs.Model("id", "def action(x):\n    yield x\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        with fs.Engine(echo_console=False) as eng:
            assert eng.run(model, f"udp:127.0.0.1:{port}", "discard:").wait(timeout=10) == "ERROR"
            assert "already in use" in str(eng.last_error)
