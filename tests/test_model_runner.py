"""ModelRunner: the engine-facing contract, output routing, recordsets, isolation and attachments."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import textwrap
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest

from fastscore_sdk.codec.base import SET
from fastscore_sdk.errors import FastScoreTimeoutError, ModelError, SchemaError
from fastscore_sdk.model import Model, ModelRunner
from fastscore_sdk.model.runner import archive_members, build_batch, unpack_attachment

XY = {
    "type": "record",
    "name": "xy",
    "fields": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
}


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


class Sink:
    """Collects emit() calls."""

    def __init__(self):
        self.calls: list[tuple[int, list]] = []
        self.lock = threading.Lock()

    def __call__(self, slot, items):
        assert items, "emit is never called with an empty list"
        with self.lock:
            self.calls.append((slot, list(items)))

    def slot(self, n):
        return [x for s, items in self.calls if s == n for x in items]


def run(model, batches, **kwargs):
    """Start a runner, feed {slot: [batch, ...]}, finish, close; return the sink and runner."""
    sink = Sink()
    runner = ModelRunner(model, emit=sink, **kwargs)
    with runner:
        for slot, items in batches.items():
            seq = 0
            for batch in items:
                runner.process(slot, batch, seqno=seq)
                seq += len(batch)
        runner.finish()
    return sink, runner


# ------------------------------------------------------------------ call-back style


def test_arity_one_two_three():
    one = Model("one", "def action(d):\n    yield d\n")
    two = Model("two", "def action(d, slot):\n    yield (d, slot)\n")
    three = Model("three", "def action(d, slot, seqno):\n    yield [d, slot, seqno]\n")
    star = Model("star", "def action(*args):\n    yield list(args)\n")
    default = Model("dflt", "def action(d, slot=9):\n    yield [d, slot]\n")
    assert run(one, {0: [["a"]]})[0].slot(1) == ["a"]
    assert run(two, {0: [["a"]]})[0].slot(1) == [("a", 0)]
    sink, _ = run(three, {0: [["a", "b"], ["c"]]})
    assert sink.slot(1) == [["a", 0, 0], ["b", 0, 1], ["c", 0, 2]]
    assert run(star, {0: [["a"]]})[0].slot(1) == [["a", 0, 0]]
    assert run(default, {0: [["a"]]})[0].slot(1) == [["a", 0]]


def test_bad_arity():
    with pytest.raises(ModelError, match="takes 0 positional arguments"):
        run(Model("zero", "def action():\n    yield 1\n"), {})
    with pytest.raises(ModelError, match="takes 4 positional"):
        run(Model("four", "def action(a, b, c, d):\n    yield 1\n"), {})


def test_emit_once_per_slot_per_batch():
    m = Model(
        "split",
        src("""
        # fastscore.slot.3: in-use
        def action(d):
            yield d
            yield (3, -d)
    """),
    )
    sink, runner = run(m, {0: [[1, 2], [3]]})
    assert sink.calls == [(1, [1, 2]), (3, [-1, -2]), (1, [3]), (3, [-3])]
    assert runner.records_in == {0: 3} and runner.records_out == {1: 3, 3: 3}


@pytest.mark.parametrize(
    "value, slot, emitted",
    [
        ((1, "x"), 1, "x"),
        ((3, "x"), 3, "x"),
        ((np.int64(3), "x"), 3, "x"),
        ((5, "x"), 1, (5, "x")),  # 5 is not an in-use output slot: a value
        ((2, "x"), 1, (2, "x")),  # an input slot: a value
        (("3", "x"), 1, ("3", "x")),
        ((True, "x"), 1, (True, "x")),  # a bool is not a slot number
        ((3, "x", "y"), 1, (3, "x", "y")),  # not a 2-tuple
        ((1, (1, "x")), 1, (1, "x")),  # the documented way to emit a row starting with a slot number
        ([3, "x"], 1, [3, "x"]),  # a list is never routed
    ],
)
def test_tuple_routing(value, slot, emitted):
    m = Model("route", "# fastscore.slot.3: in-use\nVALUE = None\ndef action(d):\n    yield VALUE\n")
    sink = Sink()
    with ModelRunner(m, emit=sink) as runner:
        runner.module.VALUE = value
        runner.process(0, [None])
        runner.finish()
    assert sink.calls == [(slot, [emitted])]


def test_output_without_slot_1():
    m = Model("sink", "# fastscore.slot.1: unused\n# fastscore.slot.3: in-use\ndef action(d):\n    yield d\n")
    with pytest.raises(ModelError, match="slot 1 is not in use"):
        run(m, {0: [[1]]})
    m = Model(
        "ok", "# fastscore.slot.1: unused\n# fastscore.slot.3: in-use\ndef action(d):\n    yield (3, d)\n"
    )
    assert run(m, {0: [[1]]})[0].calls == [(3, [1])]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("return d * 2", [2]),
        ("return None", []),
        ("return [d, d]", [[1, 1]]),  # a plain return value is one output
        ("return iter([d, d])", [1, 1]),  # an iterator is iterated
        ("return (x for x in (d, d + 1))", [1, 2]),
        ("return {'d': d}", [{"d": 1}]),
    ],
)
def test_return_values(body, expected):
    m = Model("ret", f"def action(d):\n    {body}\n")
    assert run(m, {0: [[1]]})[0].slot(1) == expected


def test_begin_and_end_generators_emit():
    m = Model(
        "hooks",
        src("""
        def begin():
            yield "from begin"
        def action(d):
            yield d
        def end():
            yield "from end"
            yield (1, "routed")
    """),
    )
    sink, _ = run(m, {0: [["x"]]})
    assert sink.calls == [(1, ["from begin"]), (1, ["x"]), (1, ["from end", "routed"])]


def test_plain_end_return_value_is_ignored(caplog):
    m = Model("hooks", "def action(d):\n    yield d\ndef end():\n    return 5\n")
    assert run(m, {0: [[1]]})[0].slot(1) == [1]
    assert "end() returned a value that is ignored" in caplog.text


def test_end_error_is_a_model_error():
    m = Model("hooks", "def action(d):\n    yield d\ndef end():\n    raise KeyError('k')\n")
    with pytest.raises(ModelError, match=r"end\(\) raised KeyError") as info:
        run(m, {})
    assert info.value.line == 4


def test_model_error_mid_batch_emits_earlier_outputs():
    m = Model("boom", "def action(d):\n    yield 10 // d\n")
    sink = Sink()
    runner = ModelRunner(m, emit=sink)
    runner.start()
    with pytest.raises(ModelError) as info:
        runner.process(0, [5, 2, 0, 1], seqno=100)
    runner.close()
    assert sink.calls == [(1, [2, 5])]
    err = info.value
    assert (err.slot, err.record_index, err.input) == (0, 102, 0)
    assert "ZeroDivisionError" in err.traceback and "runner.py" not in err.traceback
    assert isinstance(err.__cause__, ZeroDivisionError)


def test_load_error_names_the_line():
    m = Model("bad", "x = 1\ny = {}['missing']\ndef action(d):\n    yield d\n")
    with pytest.raises(ModelError, match="loading the model raised KeyError") as info:
        run(m, {})
    assert info.value.line == 2


def test_process_rules():
    m = Model("m", "# fastscore.slot.2: in-use\ndef action(d):\n    yield d\n")
    runner = ModelRunner(m, emit=Sink())
    with pytest.raises(ModelError, match="call start"):
        runner.process(0, [1])
    runner.start()
    with pytest.raises(ModelError, match="slot 1 is an output slot"):
        runner.process(1, [1])
    with pytest.raises(ModelError, match="slot 4 is not an in-use input slot"):
        runner.process(4, [1])
    runner.process(2, [1])
    runner.finish()
    with pytest.raises(ModelError, match="finished"):
        runner.process(0, [1])
    runner.close()
    runner.close()  # idempotent
    with pytest.raises(ModelError, match="already closed"):
        runner.start()
    with pytest.raises(ValueError, match="errors"):
        ModelRunner(m, emit=Sink(), errors="drop")


def test_input_checks_can_be_left_to_the_engine():
    m = Model("typed", "# fastscore.schema.0: int\n# fastscore.schema.1: int\ndef action(d):\n    yield d\n")
    with pytest.raises(SchemaError):
        run(m, {0: [["x"]]})
    with pytest.raises(SchemaError) as info:
        run(m, {0: [["x"]]}, check_inputs=False)
    assert info.value.slot == 1  # the output check still caught it
    sink, _ = run(m, {0: [["x"]]}, check_inputs=False, check_outputs=False)
    assert sink.slot(1) == ["x"]


def test_reject_callback():
    m = Model("typed", "# fastscore.schema.0: int\ndef action(d):\n    yield d\n")
    seen = []
    sink, runner = run(m, {0: [[1, "a", 2]]}, errors="reject", on_reject=seen.append)
    assert sink.slot(1) == [1, 2]
    assert [(r.index, r.slot) for r in seen] == [(1, 0)] and runner.rejected == seen
    assert runner.records_in == {0: 2}


# ------------------------------------------------------------------ recordsets


def test_recordset_input_shapes():
    record = Model(
        "rec",
        "# fastscore.schema.0: xy\n# fastscore.recordsets.0: true\n"
        "def action(b):\n    yield (type(b).__name__, list(b.columns), str(b.x.dtype))\n",
        schemas={"xy": XY},
    )
    assert run(record, {0: [[{"x": 1, "y": 2.0}]]})[0].slot(1) == [("DataFrame", ["x", "y"], "float64")]
    scalar = Model(
        "sca",
        "# fastscore.schema.0: double\n# fastscore.recordsets.0: yes\n"
        "def action(b):\n    yield (type(b).__name__, b.tolist())\n",
    )
    assert run(scalar, {0: [[1.0, 2.5]]})[0].slot(1) == [("Series", [1.0, 2.5])]
    array = Model(
        "arr",
        "# fastscore.schema.0: ad\n# fastscore.recordsets.0: true\n"
        "def action(b):\n    yield (type(b).__name__, b.shape)\n",
        schemas={"ad": {"type": "array", "items": "double"}},
    )
    assert run(array, {0: [[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]})[0].slot(1) == [("ndarray", (3, 2))]


def test_untyped_recordset_shapes():
    assert isinstance(build_batch([{"a": 1}], None), pd.DataFrame)
    assert isinstance(build_batch([1, 2], None), pd.Series)
    assert build_batch([[1, 2], [3, 4]], None).shape == (2, 2)
    empty = build_batch([], None)
    assert isinstance(empty, pd.DataFrame) and empty.empty


def test_recordset_outputs_and_set_marker():
    m = Model(
        "out",
        src("""
        # fastscore.recordsets.$all: true
        # fastscore.slot.3: in-use
        # fastscore.slot.5: in-use
        # fastscore.slot.7: in-use
        import numpy as np
        import pandas as pd
        def action(df):
            yield df
            yield (3, df.a * 2)
            yield (5, np.array([[1, 2], [3, 4]], dtype=np.int32))
            yield (7, df.set_index("key"))
    """),
    )
    sink, _ = run(m, {0: [[{"a": 1, "key": "p"}, {"a": 2, "key": "q"}]]})
    assert sink.slot(1) == [{"a": 1, "key": "p"}, {"a": 2, "key": "q"}, SET]
    assert sink.slot(3) == [2, 4, SET]
    assert sink.slot(5) == [[1, 2], [3, 4], SET]
    assert sink.slot(7) == [{"p": {"a": 1}}, {"q": {"a": 2}}, SET]
    assert all(type(v) is int for v in sink.slot(5)[0])


def test_containers_on_plain_slots():
    m = Model(
        "plain",
        src("""
        import numpy as np
        import pandas as pd
        def action(d):
            yield pd.DataFrame({"a": [1, 2]})   # rows, no set marker
            yield pd.Series({"a": 3})          # one row
            yield np.array([1.0, 2.0])         # one array value
            yield np.float64(2.5)
    """),
    )
    assert run(m, {0: [[0]]})[0].slot(1) == [{"a": 1}, {"a": 2}, {"a": 3}, [1.0, 2.0], 2.5]


def test_recordset_dataframe_batch_is_passed_as_is():
    m = Model("rs", "# fastscore.recordsets.0: true\ndef action(df):\n    yield list(df.index)\n")
    sink, _ = run(m, {0: [pd.DataFrame({"a": [1, 2]}, index=[10, 20])]})
    assert sink.slot(1) == [[10, 20]]


def test_recordset_error_context():
    m = Model("rs", "# fastscore.recordsets.0: true\ndef action(df):\n    yield df.nope\n")
    with pytest.raises(ModelError, match="AttributeError") as info:
        run(m, {0: [[{"a": 1}]]})
    assert info.value.record_index == 0 and info.value.input == [{"a": 1}]


# ------------------------------------------------------------------ explicit style


def test_explicit_slot_api():
    m = Model(
        "exp",
        src("""
        # fastscore.action: unused
        # fastscore.slot.3: in-use
        # fastscore.recordsets.3: true
        import numpy as np
        import pandas as pd
        from fastscore.io import Slot
        batches = 0
        for df in Slot(0):
            batches += 1
            Slot(1).write(df.a.sum())
        Slot(1).write(pd.Series({"n": batches}))
        Slot(3).write(np.arange(4).reshape(2, 2))
        assert Slot(0).read() is None
    """),
    )
    sink, _ = run(m, {0: [[{"a": 1}, {"a": 2}], pd.DataFrame({"a": [10]})]})
    assert sink.slot(1) == [3, 10, {"n": 2}]
    assert sink.slot(3) == [[0, 1], [2, 3], SET]


@pytest.mark.parametrize(
    "body, message",
    [
        ("Slot(1).read()", "slot 1 is an output slot"),
        ("Slot(0).write(1)", "slot 0 is an input slot"),
        ("Slot(2).read()", "slot 2 is not in use"),
        ("Slot(3).write(1)", "slot 3 is not in use"),
        ("Slot(0).read(format='numpy')", "format must be one of"),
        ("Slot(-1)", "int >= 0"),
    ],
)
def test_explicit_slot_errors(body, message):
    m = Model("exp", f"# fastscore.action: unused\nfrom fastscore.io import Slot\n{body}\n")
    with pytest.raises(ModelError, match=message):
        run(m, {0: [[{"a": 1}]]})


def test_explicit_error_carries_batch_and_traceback():
    m = Model(
        "exp",
        src("""
        # fastscore.action: unused
        from fastscore.io import Slot
        for df in Slot(0):
            if len(df) > 1:
                raise ValueError("too big")
    """),
    )
    with pytest.raises(ModelError, match="ValueError: too big") as info:
        run(m, {0: [[{"a": 1}], [{"a": 1}, {"a": 2}]]})
    err = info.value
    assert (err.slot, err.record_index, err.line) == (0, 1, 5)
    assert "raise ValueError" in err.traceback


def test_explicit_model_may_return_early():
    m = Model(
        "exp",
        "# fastscore.action: unused\nfrom fastscore.io import Slot\nSlot(1).write(Slot(0).read().a[0])\n",
    )
    sink, _runner = run(m, {0: [[{"a": 1}], [{"a": 2}], [{"a": 3}]]})
    assert sink.slot(1) == [1]


def test_explicit_sys_exit_zero_is_a_normal_end():
    m = Model(
        "exp",
        "# fastscore.action: unused\nimport sys\nfrom fastscore.io import Slot\nSlot(1).write(1)\nsys.exit(0)\n",
    )
    assert run(m, {0: [[{"a": 1}]]})[0].slot(1) == [1]
    m = Model("exp", "# fastscore.action: unused\nimport sys\nsys.exit(3)\n")
    with pytest.raises(ModelError, match="SystemExit"):
        run(m, {})


def test_explicit_outputs_flow_before_finish_and_wait_idle():
    m = Model(
        "exp",
        src("""
        # fastscore.action: unused
        from fastscore.io import Slot
        for rows in iter(lambda: Slot(0).read(format="records"), None):
            for r in rows:
                Slot(1).write(r["a"] + 1)
    """),
    )
    sink = Sink()
    with ModelRunner(m, emit=sink) as runner:
        runner.process(0, [{"a": 1}])
        assert runner.wait_idle(5)
        assert sink.slot(1) == [2]
        runner.process(0, [{"a": 2}], seqno=1)
        assert runner.wait_idle(5)
        assert sink.slot(1) == [2, 3]
        runner.finish()


def test_explicit_finish_timeout():
    m = Model("slow", "# fastscore.action: unused\nimport time\ntime.sleep(0.5)\n")
    runner = ModelRunner(m, emit=Sink())
    runner.start()
    with pytest.raises(FastScoreTimeoutError):
        runner.finish(timeout=0.01)
    runner.close()


def test_explicit_close_without_finish_ends_the_thread():
    m = Model(
        "exp", "# fastscore.action: unused\nfrom fastscore.io import Slot\nfor df in Slot(0):\n    pass\n"
    )
    runner = ModelRunner(m, emit=Sink())
    runner.start()
    runner.process(0, [{"a": 1}])
    thread = runner._thread
    runner.close()
    thread.join(2)
    assert not thread.is_alive()


def test_slot_read_in_callback_model():
    m = Model("cb", "from fastscore.io import Slot\ndef action(d):\n    yield Slot(0).read()\n")
    with pytest.raises(ModelError, match="for explicit models"):
        run(m, {0: [[1]]})


def test_slot_write_in_callback_model():
    m = Model(
        "cb",
        "# fastscore.slot.3: in-use\nfrom fastscore.io import Slot\ndef action(d):\n    Slot(3).write(d)\n",
    )
    assert run(m, {0: [[1, 2]]})[0].calls == [(3, [1, 2])]


# ------------------------------------------------------------------ isolation


def test_namespace_is_fresh_and_removed():
    m = Model("iso", "def action(d):\n    yield __name__\n")
    sink1, r1 = run(m, {0: [[0]]})
    sink2, _r2 = run(m, {0: [[0]]})
    name1, name2 = sink1.slot(1)[0], sink2.slot(1)[0]
    assert name1 != name2 and name1.startswith("fastscore_model_iso")
    assert name1 not in sys.modules and name2 not in sys.modules
    assert r1.workdir is not None and not r1.workdir.exists()


def test_two_runners_side_by_side_share_nothing():
    m = Model("state", "total = 0\ndef action(d):\n    global total\n    total += d\n    yield total\n")
    a, b = Sink(), Sink()
    with ModelRunner(m, emit=a) as ra, ModelRunner(m, emit=b) as rb:
        ra.process(0, [1, 1])
        rb.process(0, [10])
        ra.process(0, [1])
        ra.finish()
        rb.finish()
        assert ra.workdir != rb.workdir
    assert a.slot(1) == [1, 2, 3] and b.slot(1) == [10]


def test_relative_open_stays_in_the_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = Model(
        "writer",
        src("""
        import os
        def action(d):
            with open("out.txt", "w") as f:
                f.write(d)
            with open(b"out.txt", "rb") as f:
                raw = f.read()
            yield [os.path.exists(os.path.join(os.path.dirname(__file__), "out.txt")), raw.decode()]
    """),
    )
    sink, _runner = run(m, {0: [["hello"]]})
    assert sink.slot(1) == [[True, "hello"]]
    assert os.getcwd() == str(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_absolute_open_is_untouched(tmp_path):
    target = tmp_path / "abs.txt"
    target.write_text("data")
    m = Model("reader", "def action(p):\n    yield open(p).read()\n")
    assert run(m, {0: [[str(target)]]})[0].slot(1) == ["data"]


def test_print_variants(tmp_path):
    out = tmp_path / "log.txt"
    m = Model(
        "printer",
        src(f"""
        import sys
        print("partial", end="")
        print(" line")
        print("a", "b", sep="-")
        print("to stderr", file=sys.stderr)
        with open({str(out)!r}, "w") as f:
            print("to a file", file=f)
        def action(d):
            print("tail", end="")
            yield d
    """),
    )
    lines = []
    sink, runner = run(m, {0: [[1]]}, console=lines.append)
    assert runner.console == ["partial line", "a-b", "to stderr", "tail"]
    assert lines == runner.console
    assert out.read_text() == "to a file\n"
    assert sink.slot(1) == [1]


def test_builtins_are_not_patched_globally():
    import builtins

    before = (builtins.open, builtins.print, builtins.__import__)
    run(Model("m", "print('x')\ndef action(d):\n    yield d\n"), {0: [[1]]})
    assert (builtins.open, builtins.print, builtins.__import__) == before


def test_shim_is_private_to_model_code():
    m = Model(
        "api",
        "import fastscore\nimport fastscore.io as fio\ndef action(d):\n    yield [fastscore.io is fio, hasattr(fio, 'Slot')]\n",
    )
    assert run(m, {0: [[1]]})[0].slot(1) == [[True, True]]
    assert "fastscore" not in sys.modules and "fastscore.io" not in sys.modules
    bad = Model("api", "import fastscore.suite\n")
    with pytest.raises(ModelError, match=r"fastscore and fastscore\.io only"):
        run(bad, {})


# ------------------------------------------------------------------ attachments


def tar_with(path, members):
    """members: list of TarInfo-producing callables or (name, bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        for item in members:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
            else:
                name, data = item
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "members, message",
    [
        ([("/tmp/abs.txt", b"x")], "absolute path"),
        ([("../up.txt", b"x")], "climbs out"),
        ([("a/../../up.txt", b"x")], "climbs out"),
        ([link("ln", "/etc/passwd")], "absolute path"),
        ([link("ln", "../../outside")], "pointing outside"),
        ([link("sub/ln", "../../x")], "pointing outside"),
        ([("ok.txt", b"x"), link("hard", "../ok.txt", tarfile.LNKTYPE)], "pointing outside"),
        ([link("dev", "", tarfile.CHRTYPE)], "device or fifo"),
        ([link("fifo", "", tarfile.FIFOTYPE)], "device or fifo"),
    ],
)
def test_hostile_tar_is_refused(tmp_path, members, message):
    archive = tar_with(tmp_path / "evil.tar.gz", members)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ModelError, match=message):
        archive_members(archive)
    with pytest.raises(ModelError, match=message):
        unpack_attachment(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "up.txt").exists()


def test_hostile_tar_is_refused_by_the_runner(tmp_path):
    m = Model("m", "def action(d):\n    yield d\n")
    good = tar_with(tmp_path / "att.tgz", [("f.txt", b"1")])
    m.attach(good)
    tar_with(good, [("../escape.txt", b"x")])  # swapped after attach()
    with pytest.raises(ModelError, match="climbs out"):
        run(m, {})
    assert not (tmp_path / "escape.txt").exists()


def test_safe_links_inside_are_kept(tmp_path):
    archive = tar_with(tmp_path / "ok.tgz", [("dir/f.txt", b"1"), link("dir/ln", "f.txt")])
    dest = tmp_path / "dest"
    dest.mkdir()
    assert unpack_attachment(archive, dest) == ["dir/f.txt", "dir/ln"]
    assert (dest / "dir" / "ln").read_text() == "1"


@pytest.mark.parametrize(
    "name, message",
    [("../up.txt", "climbs out"), ("/abs.txt", "absolute path"), ("C:/win.txt", "absolute path")],
)
def test_hostile_zip_is_refused(tmp_path, name, message):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, "x")
    with pytest.raises(ModelError, match=message):
        archive_members(archive)


def test_zip_link_pointing_outside_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("ln")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(ModelError, match="pointing outside"):
        archive_members(archive)


def test_zip_attachment(tmp_path):
    archive = tmp_path / "att.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("file.txt", "abcd\n")
    m = Model("m", "def action(d):\n    yield open('file.txt').read()\n", attachments=[archive])
    assert m.score(["x"]) == ["abcd\n"]


def test_attached_modules_import_privately(tmp_path):
    archive = tar_with(
        tmp_path / "libs.tar.gz",
        [
            (
                "my_lib.py",
                b"from fastscore.io import Slot\nVALUE = 41\nprint('my_lib loaded')\n"
                b"def data():\n    return open('data.txt').read()\n",
            ),
            ("data.txt", b"payload"),
            ("pkg/__init__.py", b"from . import sub\nfrom .sub import twice\n"),
            ("pkg/sub.py", b"def twice(x):\n    return 2 * x\n"),
            ("pkg/extra.py", b"NAME = 'extra'\n"),
        ],
    )
    m = Model(
        "uses_libs",
        src("""
        import my_lib
        import pkg
        from pkg import extra
        import pkg.sub as sub
        def action(d):
            yield [my_lib.VALUE + d, pkg.twice(d), extra.NAME, sub.twice(3), my_lib.data(), my_lib.Slot.__module__]
    """),
        attachments=[archive],
    )
    assert m.score([1]) == [[42, 2, "extra", 6, "payload", "fastscore.io"]]
    assert m.console == ["my_lib loaded"]
    assert "my_lib" not in sys.modules and "pkg" not in sys.modules


def test_missing_submodule_of_an_attached_package(tmp_path):
    archive = tar_with(tmp_path / "libs.tar.gz", [("pkg/__init__.py", b"")])
    m = Model("m", "from pkg import nothing\n", attachments=[archive])
    with pytest.raises(ModelError, match="ImportError"):
        m.score([])


def test_data_folder_does_not_shadow_an_installed_package(tmp_path):
    from fastscore_sdk.model.runner import member_modules

    archive = tar_with(tmp_path / "data.tgz", [("json/weights.txt", b"1"), ("helper.py", b"X = 1\n")])
    assert member_modules(archive_members(archive)) == {"helper"}
    m = Model(
        "m",
        "import json\nimport helper\ndef action(d):\n    yield json.dumps(helper.X)\n",
        attachments=[archive],
    )
    assert m.score([0]) == ["1"]


def test_empty_recordset_output_is_just_a_boundary():
    m = Model(
        "empty",
        "# fastscore.recordsets.1: true\nimport pandas as pd\ndef action(d):\n    yield pd.DataFrame()\n",
    )
    sink, runner = run(m, {0: [[1]]})
    assert sink.calls == [(1, [SET])]
    assert runner.records_out == {1: 0}
