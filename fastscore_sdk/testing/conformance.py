"""One conformance suite that every transport's tests inherit (fsspec's abstract test habit).

A transport's test class subclasses :class:`TransportConformance`, sets the flags that describe the
transport, and implements the hooks that make its specs; it gets the common tests for free and adds
its own beside them. The hooks are plain methods called with pytest's ``tmp_path``; a transport that
needs a live server gets it from an autouse fixture of its test class, which pytest runs on the same
instance as the test, so the hooks can use it::

    import pytest
    from fastscore_sdk.testing.conformance import TransportConformance

    class TestKafka(TransportConformance):
        preserves_boundaries = True
        seekable = True

        @pytest.fixture(autouse=True)
        def _broker(self, kafka_broker):   # a fixture of fastscore_sdk.testing
            self.broker = kafka_broker

        def make_source_spec(self, tmp_path, payload):
            topic = self.broker.new_topic(payload)   # produce the messages, return the topic
            return {"type": "kafka", "bootstrap_servers": [self.broker.address], "topic": topic, ...}

        def make_sink_spec(self, tmp_path): ...
        def read_back(self, spec, sink): ...      # consume the topic

Flags (class attributes)
------------------------
``supports_input``, ``supports_output``
    Which of :meth:`~Transport.source` / :meth:`~Transport.sink` work; the other must raise
    :class:`~fastscore_sdk.errors.TransportError` naming the stream and saying "input only" / "output
    only" (:func:`fastscore_sdk.transports.registry.direction_error` builds it).
``seekable``, ``preserves_boundaries``
    As in :mod:`fastscore_sdk.descriptor.traits` (use ``traits_of(spec)`` to set them).
``skips_bytes``, ``skips_records``
    Whether ``source(skip_to=...)`` / ``source(skip_to_record=...)`` work; by default seekable byte
    streams skip bytes and seekable message transports skip records. Otherwise they must raise.
``source_ends``
    The source reaches its end (``read`` returns ``None``) once the payload is read. Set it to False
    for a transport that keeps waiting (REST, a TCP server); tests then stop after the payload.
``supports_empty_source``
    Whether a source can be made from an empty payload.
``abort_discards``
    :meth:`~Sink.abort` leaves no output behind (``read_back`` then returns an empty payload or None).

Hooks (methods)
---------------
``make_source_spec(tmp_path, payload) -> dict``
    A spec whose source delivers ``payload``: bytes for a byte stream, a list of messages otherwise.
``make_sink_spec(tmp_path) -> dict``
    A spec to write to.
``read_back(spec, sink) -> bytes | list[bytes] | None``
    What a closed sink delivered (``sink`` is the closed :class:`~Sink` object); ``None`` when the
    transport keeps nothing to compare (``discard``).
``make_idle_source_spec(tmp_path) -> dict | None``
    A source that stays open with nothing to read for several seconds (a slow program, a silent server):
    read timeouts are tested on it. ``None`` skips those tests.
``make_bad_source_spec(tmp_path)`` / ``make_bad_sink_spec(tmp_path) -> dict | None``
    A spec that must fail (when opened, read, written or closed: a missing file, a closed port, a
    failing program), for the error-message tests.
``make_transport(spec) -> Transport``
    How a spec becomes a transport (default :func:`~fastscore_sdk.transports.open_transport`).
``payload() -> bytes | list[bytes]``, ``sink_items() -> list[list[bytes]]``
    The data the tests read and write (successive ``write`` calls); override for a transport with
    limits (e.g. text only).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..errors import TransportError
from ..transports.base import Sink, Source, Transport
from ..transports.registry import open_transport

__all__ = ["TransportConformance"]

Payload = bytes | list[bytes]


class TransportConformance:
    """Common tests for a transport: subclass it in a ``Test...`` class and provide the hooks.

    See the module docstring for the flags and hooks.
    """

    supports_input: ClassVar[bool] = True
    supports_output: ClassVar[bool] = True
    seekable: ClassVar[bool] = False
    preserves_boundaries: ClassVar[bool] = False
    skips_bytes: ClassVar[bool | None] = None
    skips_records: ClassVar[bool | None] = None
    source_ends: ClassVar[bool] = True
    supports_empty_source: ClassVar[bool] = True
    abort_discards: ClassVar[bool] = False
    #: The stream name given to every transport; error messages must contain it.
    stream_name: ClassVar[str] = "conformance-stream"
    #: Seconds a test may spend reading a whole payload.
    read_deadline: ClassVar[float] = 10.0
    #: Longest a ``read(timeout=0)`` may take, in seconds.
    nonblocking_limit: ClassVar[float] = 0.5

    # ----------------------------------------------------------------------------------------- hooks

    def make_source_spec(self, tmp_path: Path, payload: Payload) -> dict[str, Any]:
        """A spec whose source delivers ``payload``."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_source_spec")

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        """A spec to write to."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_sink_spec")

    def read_back(self, spec: dict[str, Any], sink: Sink) -> Payload | None:
        """What the closed ``sink`` delivered; ``None`` when nothing is kept to compare."""
        raise NotImplementedError(f"{type(self).__name__} must implement read_back")

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any] | None:
        """A source that stays open with nothing to read for several seconds (``None``: skip)."""
        return None

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any] | None:
        """A spec whose source must fail to open (``None``: skip)."""
        return None

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any] | None:
        """A spec whose sink must fail to open (``None``: skip)."""
        return None

    def make_transport(self, spec: dict[str, Any]) -> Transport:
        """Build the transport under test from a spec."""
        return open_transport(spec, stream=self.stream_name)

    def payload(self) -> Payload:
        """The data read and written by the tests: binary-safe, with UTF-8, several kilobytes."""
        if self.preserves_boundaries:
            return [b"1", b'{"x": 1.5}', "é☃ data".encode(), b"m" * 5000, bytes(range(256))]
        lines = b"".join(b'{"i": %d, "s": "\xc3\xa9\xe2\x98\x83"}\n' % i for i in range(3000))
        return lines + bytes(range(256)) + b"\nlast line without a newline"

    def sink_items(self) -> list[list[bytes]]:
        """Successive ``write`` calls: the payload in uneven pieces (byte streams) or messages."""
        data = self.payload()
        if isinstance(data, list):
            return [data[:2], data[2:]]
        cuts = [0, 1, 7, len(data) // 3, len(data) // 2, len(data) - 1, len(data)]
        pieces = [data[a:b] for a, b in itertools.pairwise(cuts)]
        return [pieces[:3], pieces[3:]]

    # ---------------------------------------------------------------------------------------- helpers

    @property
    def _skips_bytes(self) -> bool:
        if self.skips_bytes is not None:
            return self.skips_bytes
        return self.seekable and not self.preserves_boundaries

    @property
    def _skips_records(self) -> bool:
        if self.skips_records is not None:
            return self.skips_records
        return self.seekable and self.preserves_boundaries

    def _require(self, direction: str) -> None:
        if direction == "input" and not self.supports_input:
            pytest.skip("output-only transport")
        if direction == "output" and not self.supports_output:
            pytest.skip("input-only transport")

    def _source(self, tmp_path: Path, payload: Payload | None = None, **kwargs: Any) -> Source:
        spec = self.make_source_spec(tmp_path, self.payload() if payload is None else payload)
        return self.make_transport(spec).source(**kwargs)

    def read_all(self, source: Source, expected: Payload | None = None) -> list[bytes]:
        """Read until the end (or, when ``source_ends`` is False, until ``expected`` is complete)."""
        got: list[bytes] = []
        deadline = time.monotonic() + self.read_deadline
        while True:
            if not self.source_ends and expected is not None and self._complete(got, expected):
                return got
            if time.monotonic() > deadline:
                pytest.fail(f"the source did not end within {self.read_deadline} s ({len(got)} items read)")
            items = source.read(timeout=0.5)
            if items is None:
                return got
            assert isinstance(items, list), f"read() must return a list or None, not {type(items).__name__}"
            assert all(isinstance(i, (bytes, bytearray, memoryview)) for i in items), (
                "read() items must be bytes"
            )
            got.extend(bytes(i) for i in items)

    def _complete(self, got: list[bytes], expected: Payload) -> bool:
        if isinstance(expected, list):
            return len(got) >= len(expected)
        return sum(map(len, got)) >= len(expected)

    def assert_payload(self, got: list[bytes] | Payload | None, expected: Payload) -> None:
        """``got`` (items read, or what ``read_back`` returned) equals ``expected``."""
        if isinstance(expected, list):
            assert isinstance(got, list), f"expected a list of messages, got {type(got).__name__}"
            assert [bytes(g) for g in got] == expected
        else:
            joined = b"".join(got) if isinstance(got, list) else got
            assert joined == expected, f"{len(joined or b'')} bytes read, {len(expected)} expected"

    def _assert_names_stream(self, err: BaseException) -> None:
        assert isinstance(err, TransportError), f"expected a TransportError, got {type(err).__name__}: {err}"
        assert self.stream_name in str(err), f"the error does not name the stream: {err}"

    def _empty(self) -> Payload:
        return [] if self.preserves_boundaries else b""

    # ---------------------------------------------------------------------------------------- reading

    def test_read_everything(self, tmp_path: Path) -> None:
        self._require("input")
        payload = self.payload()
        with self._source(tmp_path, payload) as src:
            self.assert_payload(self.read_all(src, payload), payload)

    def test_source_declares_boundaries(self, tmp_path: Path) -> None:
        self._require("input")
        with self._source(tmp_path) as src:
            assert src.preserves_boundaries is self.preserves_boundaries

    def test_iterating_yields_the_payload(self, tmp_path: Path) -> None:
        self._require("input")
        if not self.source_ends:
            pytest.skip("the source does not end by itself")
        payload = self.payload()
        with self._source(tmp_path, payload) as src:
            self.assert_payload(list(src), payload)

    def test_empty_source_ends(self, tmp_path: Path) -> None:
        self._require("input")
        if not self.supports_empty_source or not self.source_ends:
            pytest.skip("no empty source for this transport")
        with self._source(tmp_path, self._empty()) as src:
            self.assert_payload(self.read_all(src), self._empty())

    def test_read_timeout_zero_does_not_block(self, tmp_path: Path) -> None:
        self._require("input")
        with self._source(tmp_path) as src:
            deadline = time.monotonic() + self.read_deadline
            while time.monotonic() < deadline:
                start = time.monotonic()
                items = src.read(timeout=0)
                elapsed = time.monotonic() - start
                assert elapsed < self.nonblocking_limit, f"read(timeout=0) took {elapsed:.2f} s"
                if items is None or (not self.source_ends and not items):
                    break

    def test_read_timeout_on_an_idle_source(self, tmp_path: Path) -> None:
        self._require("input")
        spec = self.make_idle_source_spec(tmp_path)
        if spec is None:
            pytest.skip("no idle source for this transport")
        src = self.make_transport(spec).source()
        try:
            start = time.monotonic()
            assert src.read(timeout=0) == []
            assert time.monotonic() - start < self.nonblocking_limit
            start = time.monotonic()
            assert src.read(timeout=0.3) == []
            elapsed = time.monotonic() - start
            assert 0.2 <= elapsed < 2.0, f"read(timeout=0.3) took {elapsed:.2f} s"
        finally:
            start = time.monotonic()
            src.close()
            assert time.monotonic() - start < 3.0, "closing an idle source took more than 3 s"

    def test_end_is_sticky(self, tmp_path: Path) -> None:
        self._require("input")
        if not self.source_ends:
            pytest.skip("the source does not end by itself")
        with self._source(tmp_path) as src:
            self.read_all(src)
            assert src.read(timeout=0) is None
            assert src.read(timeout=0.05) is None

    def test_source_close_twice(self, tmp_path: Path) -> None:
        self._require("input")
        src = self._source(tmp_path)
        src.read(timeout=0.1)
        src.close()
        src.close()

    def test_source_context_manager_closes(self, tmp_path: Path) -> None:
        self._require("input")
        with self._source(tmp_path) as src:
            assert isinstance(src, Source)
            src.read(timeout=0.1)
        src.close()  # already closed by the with block: still safe

    def test_rewind(self, tmp_path: Path) -> None:
        self._require("input")
        payload = self.payload()
        with self._source(tmp_path, payload) as src:
            if not self.seekable:
                with pytest.raises(TransportError) as info:
                    src.rewind()
                self._assert_names_stream(info.value)
                return
            self.read_all(src, payload)
            src.rewind()
            self.assert_payload(self.read_all(src, payload), payload)

    def test_rewind_midway(self, tmp_path: Path) -> None:
        self._require("input")
        if not self.seekable:
            pytest.skip("not seekable")
        payload = self.payload()
        with self._source(tmp_path, payload) as src:
            assert src.read(timeout=1.0)
            src.rewind()
            self.assert_payload(self.read_all(src, payload), payload)

    def test_skip_to(self, tmp_path: Path) -> None:
        self._require("input")
        payload = self.payload()
        if not self._skips_bytes:
            with pytest.raises(TransportError) as info:
                src = self._source(tmp_path, payload, skip_to=3)
                src.read(timeout=0.5)
            self._assert_names_stream(info.value)
            return
        assert isinstance(payload, bytes)
        offset = len(payload) // 3
        with self._source(tmp_path, payload, skip_to=offset) as src:
            self.assert_payload(self.read_all(src, payload[offset:]), payload[offset:])
        with self._source(tmp_path, payload, skip_to=len(payload) + 10) as src:
            self.assert_payload(self.read_all(src, b""), b"")

    def test_skip_to_record(self, tmp_path: Path) -> None:
        self._require("input")
        payload = self.payload()
        if not self._skips_records:
            with pytest.raises(TransportError) as info:
                src = self._source(tmp_path, payload, skip_to_record=1)
                src.read(timeout=0.5)
            self._assert_names_stream(info.value)
            return
        assert isinstance(payload, list)
        with self._source(tmp_path, payload, skip_to_record=1) as src:
            self.assert_payload(self.read_all(src, payload[1:]), payload[1:])

    def test_bad_source_names_the_stream(self, tmp_path: Path) -> None:
        self._require("input")
        spec = self.make_bad_source_spec(tmp_path)
        if spec is None:
            pytest.skip("no failing source spec for this transport")
        with pytest.raises(TransportError) as info:
            src = self.make_transport(spec).source()
            try:
                self.read_all(src)
            finally:
                src.close()
        self._assert_names_stream(info.value)

    def test_reading_an_output_only_transport_fails(self, tmp_path: Path) -> None:
        if self.supports_input:
            pytest.skip("the transport can be read")
        transport = self.make_transport(self.make_sink_spec(tmp_path))
        with pytest.raises(TransportError) as info:
            transport.source()
        self._assert_names_stream(info.value)
        assert "output only" in str(info.value)

    # ---------------------------------------------------------------------------------------- writing

    def _write(self, sink: Sink) -> None:
        for items in self.sink_items():
            sink.write(items)

    def test_write_close_read_back(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_sink_spec(tmp_path)
        sink = self.make_transport(spec).sink()
        assert sink.preserves_boundaries is self.preserves_boundaries
        self._write(sink)
        sink.flush()
        sink.close()
        got = self.read_back(spec, sink)
        if got is not None:
            self.assert_payload(got, self.payload())

    def test_sink_context_manager_completes(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_sink_spec(tmp_path)
        with self.make_transport(spec).sink() as sink:
            self._write(sink)
        got = self.read_back(spec, sink)
        if got is not None:
            self.assert_payload(got, self.payload())

    def test_empty_output(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_sink_spec(tmp_path)
        with self.make_transport(spec).sink() as sink:
            pass
        got = self.read_back(spec, sink)
        if got is not None:
            self.assert_payload(got, self._empty())

    def test_sink_close_twice(self, tmp_path: Path) -> None:
        self._require("output")
        sink = self.make_transport(self.make_sink_spec(tmp_path)).sink()
        self._write(sink)
        sink.close()
        sink.close()
        sink.abort()  # after a completed close, abort has nothing left to do

    def test_write_after_close_fails(self, tmp_path: Path) -> None:
        self._require("output")
        sink = self.make_transport(self.make_sink_spec(tmp_path)).sink()
        sink.close()
        with pytest.raises(TransportError) as info:
            sink.write(self.sink_items()[0])
        self._assert_names_stream(info.value)

    def test_abort(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_sink_spec(tmp_path)
        sink = self.make_transport(spec).sink()
        self._write(sink)
        sink.abort()
        sink.abort()
        sink.close()
        if self.abort_discards:
            got = self.read_back(spec, sink)
            assert not got, "abort left output behind"

    def test_exception_in_with_block_aborts(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_sink_spec(tmp_path)

        class Boom(Exception):
            pass

        with pytest.raises(Boom), self.make_transport(spec).sink() as sink:
            self._write(sink)
            raise Boom
        if self.abort_discards:
            assert not self.read_back(spec, sink), "abort left output behind"

    def test_bad_sink_names_the_stream(self, tmp_path: Path) -> None:
        self._require("output")
        spec = self.make_bad_sink_spec(tmp_path)
        if spec is None:
            pytest.skip("no failing sink spec for this transport")
        with pytest.raises(TransportError) as info:
            sink = self.make_transport(spec).sink()
            try:
                self._write(sink)
                sink.close()
            finally:
                sink.abort()
        self._assert_names_stream(info.value)

    def test_writing_an_input_only_transport_fails(self, tmp_path: Path) -> None:
        if self.supports_output:
            pytest.skip("the transport can be written")
        transport = self.make_transport(self.make_source_spec(tmp_path, self.payload()))
        with pytest.raises(TransportError) as info:
            transport.sink()
        self._assert_names_stream(info.value)
        assert "input only" in str(info.value)
