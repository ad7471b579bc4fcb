"""The REST transport (conformance suite) and the local engine's REST calls: input, output, roundtrip,
score."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fastscore_sdk as fs
from fastscore_sdk import EngineError, FastScoreTimeoutError, ModelError, RecordError, SchemaError
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.rest import RestSink, RestSource, RestTransport

TIMES5 = "def action(datum):\n    yield datum * 5\n"
TRIP = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
CHUNKED = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}
XY = {"type": "record", "name": "xy", "fields": [{"name": "x", "type": "double"}]}


def trip(name: str = "rest-trip", **extra: Any) -> fs.Stream:
    return fs.Stream(name, {**TRIP, **extra})


def chunked(name: str = "chunks", **extra: Any) -> fs.Stream:
    return fs.Stream(name, {**CHUNKED, **extra})


@pytest.fixture
def engine():
    eng = fs.Engine(echo_console=False)
    yield eng
    eng.reset()


def collect(eng, slot: int = 1, n: int = 1, timeout: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        item = eng.output(slot, timeout=0.2)
        if item is not None:
            got.append(item)
    return got


# -- the transport ---------------------------------------------------------------------------------


class _Filled(RestTransport):
    """A REST transport whose sources start with a payload already posted, then ended."""

    payload: Any = None

    def source(self, **kwargs: Any) -> RestSource:
        src = super().source(**kwargs)
        if self.payload is not None:
            if isinstance(self.payload, list):
                for item in self.payload:
                    src.push(item)
            else:
                third = max(1, len(self.payload) // 3)
                for i in range(0, len(self.payload), third):  # bodies that cut records anywhere
                    src.push(self.payload[i : i + third])
            src.end()
        return src


class _RestConformance(TransportConformance):
    mode = "simple"

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        self._payload = payload
        return {"type": "rest", "mode": self.mode}

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        self._payload = None
        return {"type": "rest", "mode": self.mode}

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        self._payload = None
        return {"type": "rest", "mode": self.mode}

    def make_transport(self, spec: dict[str, Any]) -> RestTransport:
        t = _Filled(spec, stream=self.stream_name)
        t.payload = getattr(self, "_payload", None)
        return t

    def read_back(self, spec: dict[str, Any], sink: Sink) -> Any:
        assert isinstance(sink, RestSink)
        out: list[bytes] = []
        while True:
            try:
                item = sink.pop(0)
            except EOFError:
                break
            if item is None:
                break
            out.append(item)
        return out if self.preserves_boundaries else b"".join(out)


class TestRestSimple(_RestConformance):
    preserves_boundaries = True


class TestRestChunked(_RestConformance):
    mode = "chunked"


def test_registered_and_modes() -> None:
    t = open_transport({"type": "rest"}, stream="r")
    assert isinstance(t, RestTransport) and t.mode == "simple"
    with pytest.raises(TransportError, match="unknown REST mode"):
        open_transport({"type": "rest", "mode": "streamy"}, stream="r")


def test_push_after_end_names_the_stream() -> None:
    src = RestTransport({"type": "rest"}, stream="trip").source()
    src.end()
    with pytest.raises(TransportError, match=r"'trip'.*ended"):
        src.push(b"1")


def test_read_waits_for_a_push_from_another_thread() -> None:
    src = RestTransport({"type": "rest"}, stream="trip").source()
    threading.Timer(0.1, src.push, args=(b"late",)).start()
    start = time.monotonic()
    assert src.read(timeout=5) == [b"late"]
    assert time.monotonic() - start < 2


def test_last_apart_is_read_on_its_own() -> None:
    src = RestTransport({"type": "rest"}, stream="trip").source()
    src.push_many([b"a", b"b", b"pig"], last_apart=True)
    src.push(b"c")
    assert src.read(timeout=0) == [b"a", b"b"]
    assert src.read(timeout=0) == [b"pig", b"c"]
    assert src.read(timeout=0) == []


def test_sink_pop_waits_and_ends() -> None:
    sink = RestTransport({"type": "rest"}, stream="trip").sink()
    assert sink.pop(0) is None
    threading.Timer(0.1, sink.write, args=([b"x"],)).start()
    assert sink.pop(5) == b"x"
    sink.close()
    with pytest.raises(EOFError):
        sink.pop(0)


def test_sink_claims_split_at_markers_in_chunked_mode() -> None:
    sink = RestTransport({"type": "rest", "mode": "chunked"}, stream="c").sink()
    got: list[Any] = []
    sink.expect(b"PIG1", got.append, separator=b"\n")
    sink.expect(b"PIG2", got.append, separator=b"\n")
    sink.write([b"a\nb\nPIG1\nc\n", b"PIG2\nd\n"])
    assert got == [[b"a\nb\n"], [b"c\n"]]
    assert sink.pop(0) == b"d\n"


def test_abandoned_claim_drops_its_late_outputs() -> None:
    sink = RestTransport({"type": "rest"}, stream="s").sink()
    got: list[Any] = []
    old = sink.expect(b"P1", got.append)
    sink.abandon(old)
    sink.expect(b"P2", got.append)
    sink.write([b"late", b"P1", b"mine", b"P2", b"free"])
    assert got == [[b"mine"]]
    assert sink.pop(0) == b"free"


def test_close_releases_waiting_claims() -> None:
    sink = RestTransport({"type": "rest"}, stream="s").sink()
    got: list[Any] = []
    sink.expect(b"P", got.append)
    sink.write([b"held"])
    sink.close()
    assert got == [None]
    assert sink.pop(0) == b"held"  # unclaimed in the end: still collectable


# -- the engine: input / output ----------------------------------------------------------------------


def test_simple_input_output_and_end_of_stream(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), "rest:", "rest:")
    start = time.monotonic()
    assert engine.output(1) is None  # nothing yet: HTTP 202
    assert time.monotonic() - start < 0.5
    engine.input("2")
    engine.input(b"3", slot=0)
    assert collect(engine, n=2) == [b"10", b"15"]
    engine.input(None)
    assert engine.wait(10) == "FINISHED"
    with pytest.raises(EOFError):
        engine.output(1)  # HTTP 204


def test_end_control_record_ends_the_input(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), trip(), trip())
    engine.input("1")
    engine.input('{"$fastscore": "end"}')
    assert engine.wait(10) == "FINISHED"
    assert collect(engine) == [b"5"]
    with pytest.raises(EOFError):
        engine.output(1)
    with pytest.raises(EngineError, match="ended"):
        engine.input("2")


def test_wrong_slots_are_refused_with_the_slot_named(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), "rest:", "rest:")
    with pytest.raises(EngineError, match="slot 1 is an output slot"):
        engine.input("1", 1)
    with pytest.raises(EngineError, match="slot 0 is an input slot"):
        engine.output(0)
    with pytest.raises(EngineError, match="no stream is attached to slot 2"):
        engine.input("1", 2)
    with pytest.raises(EngineError, match="slot 0 is an input slot"):
        engine.roundtrip("1", 0, 0)


def test_non_rest_slot_is_named(engine, tmp_path) -> None:
    engine.run(fs.Model("times5", TIMES5), "rest:", f"file:{tmp_path / 'out.jsons'}")
    with pytest.raises(EngineError, match=r"slot 1 has a file stream .*not a REST stream"):
        engine.output(1)
    engine.input(None)
    assert engine.wait(10) == "FINISHED"


def test_input_before_the_run_starts_names_the_state(engine) -> None:
    engine.load_model(fs.Model("times5", TIMES5))
    engine.attach_stream("rest:", 0)
    with pytest.raises(EngineError, match="not running") as info:
        engine.input("1")
    assert info.value.state == "INIT"


def test_input_type_is_checked(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), "rest:", "rest:")
    with pytest.raises(TypeError, match="bytes or str"):
        engine.input(12)


def test_chunked_bodies_cut_records_anywhere(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), chunked("in", Batching={"NagleTime": 0}), chunked("out"))
    engine.input("1\n2")
    engine.input("0\n3\n")
    got = b""
    deadline = time.monotonic() + 5
    while got.count(b"\n") < 3 and time.monotonic() < deadline:
        got += engine.output(1, timeout=0.2) or b""
    assert got == b"5\n100\n15\n"


def test_outputs_stay_collectable_after_the_run_finishes(engine) -> None:
    out = fs.Stream("out", {"Transport": "REST", "Encoding": "json", "LingerTime": 100})
    engine.run(fs.Model("times5", TIMES5), "inline:1,2,3", out)
    assert engine.wait(10) == "FINISHED"
    assert [engine.output(1) for _ in range(3)] == [b"5", b"10", b"15"]
    with pytest.raises(EOFError):
        engine.output(1)


def test_explicit_model_outputs_are_pushed_when_asked_for(engine) -> None:
    source = (
        "# fastscore.action: unused\n"
        "from fastscore.io import Slot\n"
        "while True:\n"
        "    batch = Slot(0).read(format='records')\n"
        "    if batch is None:\n"
        "        break\n"
        "    for v in batch:\n"
        "        Slot(1).write(v * 2)\n"
    )
    engine.run(fs.Model("explicit", source), trip(), trip())
    engine.input("21")
    assert collect(engine) == [b"42"]


# -- roundtrip ---------------------------------------------------------------------------------------


def test_roundtrip_multiplier(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), trip(), trip())
    assert engine.roundtrip("20") == b"100"
    assert engine.roundtrip(b"1.5") == b"7.5"
    assert engine.stats().loc[0, "records"] == 2


def test_roundtrip_with_default_batching_does_not_wait_for_nagle(engine) -> None:
    slow = {"Transport": "REST", "Encoding": "json", "Batching": {"Watermark": 1000, "NagleTime": 5000}}
    engine.run(fs.Model("times5", TIMES5), fs.Stream("slow", slow), "rest:")
    start = time.monotonic()
    assert engine.roundtrip("2") == b"10"  # the pig closes the batch: no 5 s NagleTime wait
    assert time.monotonic() - start < 2.5


def test_roundtrip_explicit_model(engine) -> None:
    source = (
        "# fastscore.action: unused\n"
        "# fastscore.schema.0: xy\n"
        "from fastscore.io import Slot\n"
        "for df in Slot(0):\n"
        "    for x in df['x'].tolist():\n"
        "        Slot(1).write({'y': x + 1})\n"
    )
    engine.run(fs.Model("explicit", source, schemas={"xy": XY}), trip(), trip())
    assert json.loads(engine.roundtrip('{"x": 1.5}', timeout=30)) == {"y": 2.5}
    assert json.loads(engine.roundtrip('{"x": 2}')) == {"y": 3.0}


def test_roundtrip_several_and_no_outputs(engine) -> None:
    src = "def action(x):\n    for i in range(x):\n        yield i\n"
    engine.run(fs.Model("count", src), trip(), trip())
    assert engine.roundtrip("3") == b"0\n1\n2"
    assert engine.roundtrip("0") == b""


def test_roundtrip_chunked_batch(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), chunked("in"), chunked("out"))
    assert engine.roundtrip("1\n2\n3") == b"5\n10\n15\n"
    assert engine.roundtrip("4\n") == b"20\n"


def test_roundtrip_rejects_bad_input_and_keeps_serving(engine) -> None:
    m = fs.Model("ident", "# fastscore.schema.0: xy\ndef action(r):\n    yield r\n", schemas={"xy": XY})
    engine.run(m, trip(), trip())
    with pytest.raises(RecordError, match=r"slot 0.*rejected by its encoding.*JSON"):
        engine.roundtrip('{"x": ')
    with pytest.raises(SchemaError, match=r"slot 0.*rejected by schema.*\$\.x") as info:
        engine.roundtrip('{"x": "high"}')
    assert info.value.slot == 0
    assert engine.roundtrip('{"x": 1.0}') == b'{"x":1.0}'
    stats = engine.stats()
    assert stats.loc[0, "rejected_by_encoding"] == 1 and stats.loc[0, "rejected_by_schema"] == 1
    assert engine.state == "RUNNING"


def test_roundtrip_output_rejected_by_schema(engine) -> None:
    src = "# fastscore.schema.1: xy\ndef action(r):\n    yield {'x': 'not a number'}\n"
    engine.run(fs.Model("bad_out", src, schemas={"xy": XY}), trip(), trip())
    with pytest.raises(SchemaError, match=r"slot 1.*output record rejected by schema"):
        engine.roundtrip("1")


def test_roundtrip_timeout_then_the_next_answer_is_not_stale(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), trip(), trip())
    assert engine.roundtrip("1") == b"5"
    engine.pause()
    with pytest.raises(FastScoreTimeoutError, match=r"no answer on slot 1 within 0.3 s.*PAUSED.*unpause"):
        engine.roundtrip("2", timeout=0.3)
    engine.unpause()
    assert engine.roundtrip("3") == b"15"  # the late answer to "2" is dropped, not returned here


def test_roundtrip_model_error(engine) -> None:
    src = "def action(x):\n    if x == 13:\n        raise ValueError('unlucky')\n    yield x\n"
    engine.run(fs.Model("picky", src), trip(), trip())
    assert engine.roundtrip("1") == b"1"
    with pytest.raises(ModelError, match="unlucky") as info:
        engine.roundtrip("13")
    assert info.value.slot == 0
    assert engine.wait(10) == "ERROR"
    with pytest.raises(EngineError):
        engine.roundtrip("1")


def test_roundtrip_explicit_model_error(engine) -> None:
    src = (
        "# fastscore.action: unused\n"
        "from fastscore.io import Slot\n"
        "for df in Slot(0):\n"
        "    raise RuntimeError('explicit failure')\n"
    )
    engine.run(fs.Model("explicit_bad", src), trip(), trip())
    with pytest.raises(ModelError, match="explicit failure"):
        engine.roundtrip("1", timeout=30)


def test_concurrent_roundtrips_get_their_own_answers(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), trip(), trip())
    wrong: list[Any] = []

    def worker(base: int) -> None:
        for i in range(base, base + 50):
            got = engine.roundtrip(str(i))
            if got != str(i * 5).encode():
                wrong.append((i, got))

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_roundtrip_refuses_a_fixed_envelope(engine) -> None:
    fixed = fs.Stream(
        "fixed", {"Transport": "REST", "Encoding": "utf-8", "Envelope": {"Type": "fixed", "Size": 2}}
    )
    engine.run(fs.Model("ident", "def action(x):\n    yield x\n"), fixed, trip())
    with pytest.raises(fs.NotSupportedError, match="fixed envelope"):
        engine.roundtrip("ab")


# -- score (the FSD Engine.score contract) -----------------------------------------------------------


def test_score_chunked_batch_with_pig(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), chunked("in"), chunked("out"))
    assert engine.score([1, 2, 3]) == [5, 10, 15]
    records = list(range(1000))
    assert engine.score(records) == [r * 5 for r in records]
    assert engine.state == "RUNNING"


def test_score_simple_streams_and_schema(engine) -> None:
    m = fs.Model("ident", "# fastscore.schema.0: xy\ndef action(r):\n    yield r\n", schemas={"xy": XY})
    engine.run(m, trip(), trip())
    assert engine.score([{"x": 1.0}, {"x": 2.5}]) == [{"x": 1.0}, {"x": 2.5}]
    with pytest.raises(SchemaError, match=r"\$\.x"):
        engine.score([{"x": "a"}])
    assert engine.score([{"x": "a"}, {"x": 3.0}], errors="reject") == [{"x": 3.0}]


def test_score_recordsets_dataframe(engine) -> None:
    src = (
        "# fastscore.recordsets.0: true\n"
        "# fastscore.recordsets.1: true\n"
        "def action(df):\n"
        "    yield df.assign(z=df['x'] * 2)\n"
    )
    explicit = {**CHUNKED, "Batching": "explicit"}
    engine.run(fs.Model("rs", src), fs.Stream("in", explicit), fs.Stream("out", explicit))
    out = engine.score(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    assert isinstance(out, pd.DataFrame)
    assert out["z"].tolist() == [2.0, 4.0, 6.0]


def test_score_raises_when_the_engine_fails(engine) -> None:
    src = "def action(x):\n    if x == 3:\n        raise ValueError('three')\n    yield x\n"
    engine.run(fs.Model("picky", src), chunked("in"), chunked("out"))
    with pytest.raises(ModelError, match="three"):
        engine.score([1, 2, 3, 4])
    assert engine.wait(10) == "ERROR"


def test_score_timeout(engine) -> None:
    engine.run(fs.Model("times5", TIMES5), chunked("in"), chunked("out"))
    engine.pause()
    with pytest.raises(FastScoreTimeoutError):
        engine.score([1], timeout=0.2)
    engine.unpause()
    assert engine.score([2]) == [10]
