"""The embedded local engine: state machine, slots, batching, control records, stats and errors."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

import fastscore_sdk as fs
from fastscore_sdk import EngineError, ModelError
from fastscore_sdk.engine import EngineState

PLUS1 = "def action(x):\n    yield x + 1\n"


def model(source: str, name: str = "m", **kw) -> fs.Model:
    return fs.Model(name, source, **kw)


def jsons(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def file_in(path, **extra) -> fs.Stream:
    desc = {"Transport": {"Type": "file", "Path": str(path)}, "Loop": False, "Encoding": "json"}
    desc.update(extra)
    return fs.Stream(path.stem, desc)


def test_state_machine_init_running_finished_reset(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text("1\n2\n3\n")
    out = tmp_path / "out.jsons"
    eng = make_engine()
    assert eng.state == "INIT" and eng.state is EngineState.INIT
    eng.load_model(model(PLUS1))
    eng.attach_stream(file_in(src), 0)
    assert eng.state == "INIT"  # slot 1 still missing
    eng.attach_stream(f"file:{out}", 1)
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [2, 3, 4]
    eng.reset()
    assert eng.state == "INIT" and eng.model is None and eng.inspect()["streams"] == {}


def test_run_inline_to_discard_finishes(make_engine):
    eng = make_engine().run(model(PLUS1), "inline:1,2,3", "discard:")
    assert eng.wait(10) == EngineState.FINISHED
    stats = eng.stats()
    assert int(stats.loc[0, "records"]) == 3 and int(stats.loc[1, "records"]) == 3


def test_context_manager_resets(make_engine):
    with make_engine() as eng:
        eng.run(model(PLUS1), "inline:1", "discard:").wait(10)
    assert eng.state == "INIT"


def test_pause_in_init_takes_effect_when_running(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text("1\n2\n")
    out = tmp_path / "out.jsons"
    eng = make_engine()
    eng.pause()
    eng.run(model(PLUS1), file_in(src), f"file:{out}")
    assert eng.state == "PAUSED"
    time.sleep(0.3)
    assert eng.state == "PAUSED"
    eng.unpause()
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [2, 3]
    with pytest.raises(EngineError, match="FINISHED"):
        eng.pause()


def test_model_error_puts_engine_in_error_with_context(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text("1\n2\n0\n4\n")
    out = tmp_path / "out.jsons"
    eng = make_engine().run(model("def action(x):\n    yield 10 // x\n"), file_in(src), f"file:{out}")
    assert eng.wait(10) == "ERROR"
    err = eng.last_error
    assert isinstance(err, ModelError)
    assert err.slot == 0 and err.record_index == 2
    assert "ZeroDivisionError" in (err.traceback or "")
    assert jsons(out) == [10, 5]  # what was produced before the failure is kept


def test_unexpected_slot_is_refused(make_engine):
    eng = make_engine()
    eng.load_model(model(PLUS1))
    with pytest.raises(EngineError, match="unexpected slot 5"):
        eng.attach_stream("discard:", 5)


def test_multiple_slots_load_only_when_all_attached(make_engine, tmp_path):
    src = "# fastscore.slot.2: in-use\n# fastscore.slot.3: in-use\ndef action(x, slot):\n    yield (1 if slot == 0 else 3, x)\n"
    outs = [tmp_path / "o1.jsons", tmp_path / "o3.jsons"]
    eng = make_engine()
    eng.load_model(model(src))
    eng.attach_stream("inline:1,2", 0)
    eng.attach_stream(f"file:{outs[0]}", 1)
    eng.attach_stream("inline:7", 2)
    assert eng.state == "INIT"
    eng.attach_stream(f"file:{outs[1]}", 3)
    assert eng.wait(10) == "FINISHED"
    assert jsons(outs[0]) == [1, 2] and jsons(outs[1]) == [7]


def test_batching_watermark_gives_recordsets_of_two(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text("".join(json.dumps({"x": float(i)}) + "\n" for i in range(5)))
    out = tmp_path / "out.jsons"
    code = "# fastscore.recordsets.0: true\ndef action(df):\n    yield len(df)\n"
    eng = make_engine().run(
        model(code), file_in(src, Batching={"Watermark": 2, "NagleTime": None}), f"file:{out}"
    )
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [2, 2, 1]


def test_explicit_batching_cuts_at_set_markers(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('{"x":1.0}\n{"x":2.0}\n{"$fastscore":"set"}\n{"x":3.0}\n{"$fastscore":"set"}\n')
    out = tmp_path / "out.jsons"
    code = "# fastscore.recordsets.0: true\ndef action(df):\n    yield float(df.x.sum())\n"
    eng = make_engine().run(model(code), file_in(src, Batching="explicit"), f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [3.0, 3.0]


def test_pig_travels_as_a_barrier(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('1\n2\n{"$fastscore":"pig"}\n3\n')
    out = tmp_path / "out.jsons"
    eng = make_engine().run(model(PLUS1), file_in(src), f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [2, 3, {"$fastscore": "pig"}, 4]


def test_end_control_record_ends_the_input(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('1\n{"$fastscore":"end"}\n2\n')
    out = tmp_path / "out.jsons"
    assert make_engine().run(model(PLUS1), file_in(src), f"file:{out}").wait(10) == "FINISHED"
    assert jsons(out) == [2]


def test_stats_and_rejected_by_schema(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('1\n2\n"three"\n4\n')
    out = tmp_path / "out.jsons"
    eng = make_engine().run(model("# fastscore.schema.0: int\n" + PLUS1), file_in(src), f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    stats = eng.stats()
    assert int(stats.loc[0, "records"]) == 3
    assert int(stats.loc[0, "rejected_by_schema"]) == 1
    assert int(stats.loc[1, "records"]) == 3
    [rejected] = eng.rejected(0)
    assert rejected.index == 2 and rejected.slot == 0 and rejected.kind == "schema"


def test_console_capture_is_not_mixed_into_outputs(make_engine, tmp_path, capsys):
    out = tmp_path / "out.jsons"
    code = "def action(x):\n    print('hi', x)\n    yield x\n"
    eng = make_engine().run(model(code), "inline:1,2", f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [1, 2]
    assert [line.rstrip("\n") for line in eng.console] == ["hi 1", "hi 2"]


def test_console_echo_reaches_stdout(tmp_path, capsys):
    eng = fs.Engine(echo_console=True)
    eng.run(model("def action(x):\n    print('seen', x)\n    yield x\n"), "inline:5", "discard:").wait(10)
    assert "seen 5" in capsys.readouterr().out


def test_looping_input_warns_and_stop_ends_the_run(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text("1\n2\n")
    out = tmp_path / "out.jsons"
    eng = make_engine()
    with pytest.warns(UserWarning, match="will not end"):
        eng.run(model(PLUS1), file_in(src, Loop=True), f"file:{out}")
    deadline = time.monotonic() + 10
    while eng.stats().loc[1, "records"] < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    eng.stop()
    assert eng.state == "FINISHED"
    written = jsons(out)
    assert len(written) >= 10 and set(written) == {2, 3}


def test_inspect_is_json_able_and_redacts(make_engine, tmp_path):
    eng = make_engine().run(model(PLUS1), "inline:1", "discard:")
    eng.wait(10)
    info = eng.inspect()
    json.dumps(info)
    assert info["state"] == "FINISHED" and info["streams"][0]["transport"] == "inline"


def test_put_copies_into_the_engine_file_area(make_engine, tmp_path):
    src = tmp_path / "data.jsons"
    src.write_text("1\n")
    eng = make_engine()
    dst = eng.put(src)
    assert dst.read_text() == "1\n" and dst != src
    eng.reset()
    assert not dst.exists()


def test_scale_is_not_yet(make_engine):
    with pytest.raises(fs.NotSupportedError):
        make_engine().scale(2)


def test_error_then_reset_recovers(make_engine, tmp_path):
    eng = make_engine()
    eng.run(
        model("def action(x):\n    raise ValueError('bad input ' + str(x))\n    yield\n"),
        "inline:7",
        "discard:",
    )
    assert eng.wait(10) == "ERROR"
    assert eng.last_error.input == 7 or eng.last_error.input == [7]
    assert "bad input 7" in str(eng.last_error)
    with pytest.raises(EngineError):
        eng.attach_stream("discard:", 1)
    eng.reset()
    assert eng.state == "INIT" and eng.last_error is None
    out = tmp_path / "out.jsons"
    assert eng.run(model(PLUS1), "inline:1", f"file:{out}").wait(10) == "FINISHED"
    assert jsons(out) == [2]


def test_state_passes_through_finishing_and_pigging(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('1\n{"$fastscore":"pig"}\n2\n')
    seen = set()
    code = "import time\ndef action(x):\n    time.sleep(0.1)\n    yield x\ndef end():\n    time.sleep(0.3)\n"
    eng = make_engine().run(model(code), file_in(src), "discard:")
    deadline = time.monotonic() + 10
    while eng.state not in ("FINISHED", "ERROR") and time.monotonic() < deadline:
        seen.add(str(eng.state))
        time.sleep(0.005)
    assert eng.state == "FINISHED"
    assert {"RUNNING", "FINISHING"} <= seen


def test_splitter_routes_to_slots_1_and_3(make_engine, tmp_path):
    code = (
        "# fastscore.schema.0: array-double\n"
        "# fastscore.schema.1: array-double\n"
        "# fastscore.schema.3: array-double\n"
        "def action(datum):\n"
        "    yield (1, datum)\n"
        "    yield (3, datum)\n"
    )
    array_double = fs.Schema("array-double", {"type": "array", "items": "double"})
    outs = [tmp_path / "o1.jsons", tmp_path / "o3.jsons"]
    m = fs.Model("splitter", code, schemas={"array-double": array_double})
    source = fs.Stream(
        "arrays", {"Transport": {"Type": "inline", "Data": ["[1.0,2.0]", "[3.5]"]}, "Encoding": "json"}
    )
    eng = make_engine().run(m, source, f"file:{outs[0]}")
    assert eng.state == "INIT"  # slot 3 is in use too
    eng.attach_stream(f"file:{outs[1]}", 3)
    assert eng.wait(10) == "FINISHED"
    assert jsons(outs[0]) == [[1.0, 2.0], [3.5]] and jsons(outs[1]) == [[1.0, 2.0], [3.5]]


def test_nagle_time_closes_partial_batches(make_engine, tmp_path):
    code = "# fastscore.recordsets.0: true\ndef action(df):\n    yield len(df)\n"
    out = tmp_path / "out.jsons"
    s = fs.Stream(
        "slow",
        {
            "Transport": {
                "Type": "exec",
                "Run": "/bin/sh",
                "Args": ["-c", "echo 1; echo 2; sleep 0.5; echo 3"],
            },
            "Encoding": "json",
            "Batching": {"Watermark": 100, "NagleTime": 100},
        },
    )
    eng = make_engine().run(model(code), s, f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [2, 1]


def test_null_batching_gives_one_record_batches(make_engine, tmp_path):
    code = "# fastscore.recordsets.0: true\ndef action(df):\n    yield len(df)\n"
    out = tmp_path / "out.jsons"
    s = fs.Stream(
        "one",
        {"Transport": {"Type": "inline", "Data": ["1", "2", "3"]}, "Encoding": "json", "Batching": None},
    )
    assert make_engine().run(model(code), s, f"file:{out}").wait(10) == "FINISHED"
    assert jsons(out) == [1, 1, 1]


def test_missing_module_fails_at_load(make_engine):
    eng = make_engine()
    with pytest.raises(ModelError, match="module 'no_such_module_xyz' not found"):
        eng.load_model(model("import no_such_module_xyz\ndef action(x):\n    yield x\n"))
    assert eng.state == "INIT"


def test_malformed_annotation_names_the_line(make_engine):
    with pytest.raises(ModelError) as info:
        make_engine().load_model(
            model("# ok\n# fastscore.recordsets.0: maybe\ndef action(x):\n    yield x\n")
        )
    assert info.value.line == 2


def test_explicit_model_in_engine(make_engine, tmp_path):
    src = tmp_path / "in.jsons"
    src.write_text('{"a": 1}\n{"a": 2}\n')
    out = tmp_path / "out.jsons"
    code = (
        "# fastscore.action: unused\n"
        "from fastscore.io import Slot\n"
        "for df in Slot(0):\n"
        "    for a in df['a'].tolist():\n"
        "        Slot(1).write({'n': a * 2})\n"
    )
    eng = make_engine().run(model(code), file_in(src), f"file:{out}")
    assert eng.wait(10) == "FINISHED"
    assert jsons(out) == [{"n": 2}, {"n": 4}]


def test_cwd_and_threads_are_left_clean(make_engine, tmp_path):
    before = os.getcwd()
    threads = threading.active_count()
    make_engine().run(model(PLUS1), "inline:1,2", "discard:").wait(10)
    time.sleep(0.1)
    assert os.getcwd() == before
    assert threading.active_count() <= threads


def test_wait_with_a_progress_bar_counts_records(make_engine, capsys):
    eng = make_engine().run(model(PLUS1), "inline:1,2,3", "discard:")
    assert eng.wait(10, progress=True) == "FINISHED"
    err = capsys.readouterr().err
    assert "3" in err and "records" in err
