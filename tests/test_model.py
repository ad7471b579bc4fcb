"""Model: construction, schema resolution, scoring and validation (reference §2, §7 items 17-29, 55, 57)."""

from __future__ import annotations

import io
import logging
import math
import os
import tarfile
import textwrap

import numpy as np
import pandas as pd
import pytest

from fastscore_sdk.codec.base import SET
from fastscore_sdk.errors import (
    FastScoreDeprecationWarning,
    ModelError,
    NotSupportedError,
    SchemaError,
)
from fastscore_sdk.model import MISSING, Model
from fastscore_sdk.schema import Schema

ARRAY_DOUBLE = {"type": "array", "items": "double"}
XY = {
    "type": "record",
    "name": "xy",
    "fields": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
}
XYS = {
    "type": "record",
    "name": "xys",
    "fields": [
        {"name": "x", "type": "double"},
        {"name": "y", "type": "double"},
        {"name": "sum", "type": "double"},
    ],
}


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def make_tgz(path, files: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ------------------------------------------------------------------ construction


def test_construction_parses_and_resolves():
    m = Model(
        "boxer",
        src("""
        # fastscore.schema.0: double
        # fastscore.schema.1: array-double
        def action(datum):
            yield [datum]
    """),
        schemas={"array-double": ARRAY_DOUBLE},
    )
    assert m.name == "boxer" and m.mtype == "python3" and not m.explicit
    assert [(s.slot, s.direction, s.action) for s in m.slots] == [(0, "input", "action"), (1, "output", None)]
    assert isinstance(m.schema(0), Schema) and m.schema(0).name == "double"
    assert m.schema(1).name == "array-double"
    assert m.annotations.slot(1).schema == "array-double"  # names stay in the annotations
    with pytest.raises(ModelError, match="slot 5 is not in use"):
        m.schema(5)


def test_no_shared_mutable_default():
    a = Model("a", "def action(x):\n    yield x\n")
    b = Model("b", "def action(x):\n    yield x\n")
    assert a.attachments is not b.attachments
    assert a._schemas_arg is not b._schemas_arg


def test_source_is_read_only():
    m = Model("a", "def action(x):\n    yield x\n")
    with pytest.raises(AttributeError):
        m.source = "x = 1"  # type: ignore[misc]


def test_syntax_error_names_the_line():
    with pytest.raises(ModelError) as info:
        Model("bad", "x = 1\ndef action(x)\n    yield x\n")
    assert info.value.line == 2
    assert "syntax error" in str(info.value) and "line 2" in str(info.value)


def test_bad_annotation_names_the_line():
    with pytest.raises(ModelError) as info:
        Model("bad", "import math\n# fastscore.schema.0 double\n")
    assert info.value.line == 2 and "model 'bad'" in str(info.value)


def test_unknown_model_type():
    with pytest.raises(ModelError, match="unknown model type 'cobol'"):
        Model("m", "", "cobol")


def test_mime_type_is_accepted():
    assert (
        Model("m", "def action(x):\n    yield x\n", "application/vnd.fastscore.model-python3").mtype
        == "python3"
    )


def test_load_py3_and_name_from_stem(tmp_path):
    (tmp_path / "echo.py3").write_text("def action(x):\n    yield x\n")
    m = Model.load(tmp_path / "echo.py3")
    assert (m.name, m.mtype, m.path) == ("echo", "python3", (tmp_path / "echo.py3").resolve())
    assert m.score(["abc"]) == ["abc"]


def test_load_py_runs_as_python3_with_a_note(tmp_path, caplog):
    (tmp_path / "echo.py").write_text("def action(x):\n    yield x\n")
    with caplog.at_level(logging.INFO, logger="fastscore_sdk.model"):
        m = Model.load(tmp_path / "echo.py")
    assert m.mtype == "python"
    assert "runs as Python 3" in caplog.text
    assert m.score([1]) == [1]


@pytest.mark.parametrize(
    "filename, mtype",
    [("sum.R", "r"), ("m.pfa", "pfa-json"), ("m.yaml", "pfa-yaml"), ("M.java", "java"), ("m.c", "c")],
)
def test_other_types_parse_but_do_not_run(tmp_path, filename, mtype):
    (tmp_path / filename).write_text("# fastscore.schema.0: double\naction <- function(x) emit(x)\n")
    m = Model.load(tmp_path / filename)
    assert m.mtype == mtype
    assert m.schema(0).name == "double"
    with pytest.raises(NotSupportedError, match="not supported yet"):
        m.score([1.0])


def test_load_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "m.txt").write_text("")
    with pytest.raises(ModelError, match="extension"):
        Model.load(tmp_path / "m.txt")
    with pytest.raises(ModelError, match="not found"):
        Model.load(tmp_path / "nope.py3")


# ------------------------------------------------------------------ schema names


def test_primitives_resolve_first():
    m = Model("m", "# fastscore.schema.0: double\n", schemas={"double": {"type": "array", "items": "int"}})
    assert m.schema(0).avro == "double"


def test_schemas_argument_then_library_then_avsc(tmp_path):
    (tmp_path / "m.py3").write_text(
        "# fastscore.schema.0: from_arg\n# fastscore.schema.1: from_lib\n"
        "# fastscore.schema.2: from_file\n# fastscore.schema.3: both\n"
    )
    (tmp_path / "from_file.avsc").write_text('{"type": "array", "items": "string"}')
    (tmp_path / "both.avsc").write_text('"string"')
    lib = {"from_lib": "long", "both": "int"}
    m = Model.load(
        tmp_path / "m.py3",
        schemas={"from_arg": Schema("from_arg", "boolean"), "both": "double"},
        library=lib,
    )
    assert m.schema(0).avro == "boolean"
    assert m.schema(1).avro == "long"
    assert m.schema(2).avro == {"type": "array", "items": "string"}
    assert m.schema(3).avro == "double"  # the schemas argument beats the library and the file


def test_unresolved_schema_names_the_comment_line():
    source = 'def action(datum):\n    yield "this is some output"\n# fastscore.schema.0: integer\n'
    with pytest.raises(ModelError) as info:
        Model("yieldString", source, library={})
    text = str(info.value)
    assert info.value.line == 3
    assert "schema 'integer' not found (line 3: # fastscore.schema.0: integer)" in text
    assert "%%schema integer" in text and "schemas=" in text and "integer.avsc" in text


def test_invalid_schema_in_the_schemas_argument():
    with pytest.raises(ModelError, match="not valid Avro"):
        Model("m", "# fastscore.schema.0: s\n", schemas={"s": {"type": "strng"}})


# ------------------------------------------------------------------ reference examples


def test_item18_echo_and_yield1234_construct():
    with pytest.warns(FastScoreDeprecationWarning):
        echo = Model(
            "echo", "# fastscore.input: string\n# fastscore.output: string\ndef action(d):\n    yield d\n"
        )
    assert echo.score(["abc"]) == ["abc"]
    with pytest.warns(FastScoreDeprecationWarning):
        y = Model(
            "yield1234",
            "# fastscore.input: double\n# fastscore.output: double\ndef action(datum):\n    yield 12.34\n",
        )
    assert y.score([1.0]) == [12.34]


def test_item19_sink_model_has_no_output():
    m = Model("sink", "# fastscore.slot.1: unused\nseen = []\ndef action(d):\n    seen.append(d)\n")
    assert [s.slot for s in m.slots] == [0]
    assert m.score([1, 2]) == []
    assert m.score([1], by_slot=True) == {}


def test_item21_boxer_and_unboxer():
    boxer = Model(
        "boxer",
        src("""
        # fastscore.schema.0: double
        # fastscore.schema.1: array-double
        def action(datum):
            yield [datum]
    """),
        schemas={"array-double": ARRAY_DOUBLE},
    )
    unboxer = Model(
        "unboxer",
        src("""
        # fastscore.schema.0: array-double
        # fastscore.schema.1: double
        def action(datum):
            yield datum[0]
    """),
        schemas={"array-double": ARRAY_DOUBLE},
    )
    assert boxer.score([1.5, 2.5]) == [[1.5], [2.5]]
    assert unboxer.score([[3.0, 4.0]]) == [3.0]
    assert unboxer.score(boxer.score([1.5, 2.5])) == [1.5, 2.5]


def test_item22_splitter_by_slot():
    splitter = Model(
        "splitter",
        src("""
        # fastscore.schema.0: array-double
        # fastscore.schema.1: array-double
        # fastscore.schema.3: array-double
        def action(datum):
            yield (1, datum)
            yield (3, datum)
    """),
        schemas={"array-double": ARRAY_DOUBLE},
    )
    assert splitter.score([[1.0, 2.0]], by_slot=True) == {1: [[1.0, 2.0]], 3: [[1.0, 2.0]]}
    assert splitter.score([[1.0, 2.0]]) == [[1.0, 2.0]]


def test_item23_input_schema_enforced():
    m = Model("typed", "# fastscore.schema.0: int\ndef action(d):\n    yield d\n")
    with pytest.raises(SchemaError, match="Int expected") as info:
        m.score([1, "fastscore"])
    assert info.value.slot == 0 and info.value.record_index == 1
    assert "slot 0" in str(info.value) and "record 1" in str(info.value)


def test_item23_input_reject_mode():
    m = Model("typed", "# fastscore.schema.0: int\ndef action(d):\n    yield d * 2\n")
    assert m.score([1, "fastscore", 3], errors="reject") == [2, 6]
    assert [(r.index, r.slot, r.kind, r.raw) for r in m.rejected] == [(1, 0, "schema", "fastscore")]
    assert "Int expected" in m.rejected[0].reason


def test_item23_output_rejection_names_the_output_slot():
    m = Model("typed", "# fastscore.schema.1: int\ndef action(d):\n    yield str(d)\n")
    with pytest.raises(SchemaError, match="Int expected") as info:
        m.score([1])
    assert info.value.slot == 1 and info.value.record_index == 0
    assert m.score([1, 2], errors="reject") == []
    assert [(r.index, r.slot) for r in m.rejected] == [(0, 1), (1, 1)]


def test_item23_untyped_multiplier():
    assert Model("multiplier", "def action(datum):\n    yield datum*5\n").score([20]) == [100]


def test_item24_per_slot_actions():
    m = Model(
        "multi",
        src("""
        # fastscore.action.0: score
        # fastscore.action.2: other
        def score(x):
            yield ("score", x)
        def other(x):
            yield ("other", x)
    """),
    )
    out = m.score({0: [1], 2: [2]})
    assert out == [("score", 1), ("other", 2)]


def test_item24_missing_per_slot_action_names_the_line():
    m = Model("multi", "# fastscore.action.0: score\ndef action(x):\n    yield x\n")
    with pytest.raises(ModelError) as info:
        m.score([1])
    assert info.value.line == 1 and "action 'score' for slot 0 is not defined" in str(info.value)


def test_missing_action():
    with pytest.raises(ModelError, match="no action"):
        Model("m", "x = 1\n").score([1])


def rs_model():
    return Model(
        "rs",
        src("""
        # fastscore.schema.0: xy
        # fastscore.schema.1: xys
        # fastscore.recordsets.0: true
        # fastscore.recordsets.1: true
        def action(df):
            df['sum'] = df.x + df.y
            yield df
    """),
        schemas={"xy": XY, "xys": XYS},
    )


DOC_RS_IN = [{"x": 3.0, "y": 2.0}, {"x": 2.5, "y": 2.5}, {"x": -3.2, "y": -1.0}]
DOC_RS_OUT = [
    {"x": 3.0, "y": 2.0, "sum": 5.0},
    {"x": 2.5, "y": 2.5, "sum": 5.0},
    {"x": -3.2, "y": -1.0, "sum": -4.2},
]


def test_item25_doc_rs_example_exactly():
    m = rs_model()
    assert m.score(DOC_RS_IN) == DOC_RS_OUT
    assert m.score(DOC_RS_IN, by_slot=True) == {1: DOC_RS_OUT}


def test_item25_dataframe_in_dataframe_out():
    out = rs_model().score(pd.DataFrame(DOC_RS_IN))
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["x", "y", "sum"]
    assert out.to_dict("records") == DOC_RS_OUT


def test_item25_set_markers_split_batches():
    m = Model(
        "sizes",
        src("""
        # fastscore.recordsets.0: true
        def action(df):
            yield len(df)
    """),
    )
    assert m.score([{"a": 1}, {"a": 2}, SET, {"a": 3}, {"$fastscore": "set"}]) == [2, 1]


def test_item26_json_mode():
    m = rs_model()
    out = m.score(
        ['{"x":3.0,"y":2.0}', '{"x":2.5,"y":2.5}', '{"x":-3.2,"y":-1.0}', '{"$fastscore":"set"}'],
        encoding="json",
    )
    assert out == [
        '{"x":3.0,"y":2.0,"sum":5.0}',
        '{"x":2.5,"y":2.5,"sum":5.0}',
        '{"x":-3.2,"y":-1.0,"sum":-4.2}',
        '{"$fastscore":"set"}',
    ]
    rows = Model("n", "# fastscore.recordsets.0: yes\ndef action(df):\n    yield df.shape[0]\n")
    assert rows.score(['{"x":1.0}', '{"x":2.0}', '{"$fastscore":"set"}'], encoding="json") == ["2"]
    with pytest.raises(ModelError, match="not JSON"):
        rows.score(["{oops"], encoding="json")


EXPLICIT = src("""
    # fastscore.action: unused
    from fastscore.io import Slot
    for df in Slot(0):
        for a in df.a:
            Slot(1).write({'n': a*2})
""")


def test_item27_explicit_model():
    m = Model("explicit", EXPLICIT)
    assert m.explicit
    assert m.score(pd.DataFrame({"a": [1, 2]})) == [{"n": 2}, {"n": 4}]
    assert m.score([{"a": 3}]) == [{"n": 6}]
    # the slot state does not leak between runs
    assert m.score(pd.DataFrame({"a": [1, 2]})) == [{"n": 2}, {"n": 4}]


def test_item27_explicit_any_slot():
    m = Model(
        "two",
        src("""
        # fastscore.action: unused
        # fastscore.slot.2: in-use
        # fastscore.slot.3: in-use
        import fastscore.io
        left = fastscore.io.Slot(0).read()
        right = fastscore.io.Slot(2).read(format="records")
        fastscore.io.Slot(3).write(len(left) + len(right))
        fastscore.io.Slot(1).write(left)
    """),
    )
    out = m.score({0: pd.DataFrame({"a": [1, 2]}), 2: [{"b": 1}]}, by_slot=True)
    assert out == {1: [{"a": 1}, {"a": 2}], 3: [3]}


def test_item28_attachment_and_cwd(tmp_path):
    att = make_tgz(tmp_path / "file-contains-1234.tgz", {"file.txt": b"1234\n"})
    with pytest.warns(FastScoreDeprecationWarning):
        m = Model(
            "emit-attach1",
            src("""
            # fastscore.input: string
            # fastscore.output: string
            def action(datum):
                with open('file.txt') as f:
                    yield f.read()
        """),
        )
    m.attach(att)
    before = os.getcwd()
    assert m.score(["x"]) == ["1234\n"]
    assert os.getcwd() == before
    assert not (tmp_path / "file.txt").exists() and not os.path.exists("file.txt")


def test_attach_rules(tmp_path):
    m = Model("m", "def action(x):\n    yield x\n")
    (tmp_path / "a.pkl").write_bytes(b"x")
    with pytest.raises(ModelError, match=r"not a \.tar\.gz, \.tgz or \.zip"):
        m.attach(tmp_path / "a.pkl")
    with pytest.raises(ModelError, match="not found"):
        m.attach(tmp_path / "missing.tar.gz")
    (tmp_path / "broken.tgz").write_bytes(b"not gzip")
    with pytest.raises(ModelError, match="cannot be read"):
        m.attach(tmp_path / "broken.tgz")
    first = make_tgz(tmp_path / "att.tar.gz", {"a.txt": b"1"})
    m.attach(first)
    m.attach(first)  # the same name replaces
    assert m.attachments == [first.resolve()]
    m2 = Model("m2", "def action(x):\n    yield x\n", attachments=[first])
    assert m2.attachments == [first.resolve()]


def test_attach_refuses_unsafe_archive(tmp_path):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ModelError, match="climbs out"):
        Model("m", "def action(x):\n    yield x\n").attach(path)


def test_item55_print_is_captured_not_output():
    m = Model("chatty", "def action(x):\n    print('hi', x)\n    yield x\n")
    seen = []
    assert m.score([1, 2], console=seen.append) == [1, 2]
    assert m.console == ["hi 1", "hi 2"]
    assert seen == ["hi 1", "hi 2"]


def test_item55_print_does_not_reach_stdout(capsys):
    Model("chatty", "print('loading')\ndef action(x):\n    yield x\n").score([1])
    assert capsys.readouterr().out == ""


def test_item57_missing_import_fails_at_load():
    m = Model("needs", "import math\nimport no_such_module_xyz.sub\ndef action(x):\n    yield x\n")
    with pytest.raises(ModelError) as info:
        m.score([1])
    err = info.value
    assert "module 'no_such_module_xyz' not found (declare it with # fastscore.module-attached: " in str(err)
    assert "no_such_module_xyz or install it)" in str(err)
    assert err.line == 2


def test_item57_optional_imports_are_not_checked():
    m = Model(
        "opt",
        src("""
        try:
            import no_such_module_xyz
        except ImportError:
            no_such_module_xyz = None
        def action(x):
            yield no_such_module_xyz is None
    """),
    )
    assert m.score([1]) == [True]


def test_item57_module_attached_skips_the_check(tmp_path):
    m = Model(
        "declared",
        "# fastscore.module-attached: helper_mod\nimport helper_mod\ndef action(x):\n    yield helper_mod.f(x)\n",
    )
    with pytest.raises(ModelError, match="ModuleNotFoundError") as info:
        m.score([1])  # declared but not shipped: fails when the module runs, with the traceback
    assert info.value.line == 2 and "loading the model" in str(info.value)
    m.attach(make_tgz(tmp_path / "helper.tgz", {"helper_mod.py": b"def f(x):\n    return x + 1\n"}))
    assert m.score([1]) == [2]


# ------------------------------------------------------------------ behaviour


def test_begin_once_and_generator_end():
    m = Model(
        "counts",
        src("""
        calls = []
        def begin():
            calls.append("begin")
        def action(x):
            calls.append(x)
            yield x
        def end():
            yield ("end", list(calls))
    """),
    )
    assert m.score([1, 2]) == [1, 2, ("end", ["begin", 1, 2])]


def test_runs_do_not_share_state():
    m = Model("counter", "n = 0\ndef action(x):\n    global n\n    n += 1\n    yield n\n")
    assert m.score([0, 0]) == [1, 2]
    assert m.score([0, 0]) == [1, 2]


def test_import_fastscore_inside_and_outside():
    m = Model(
        "api", "import fastscore\nfrom fastscore.io import Slot\ndef action(x):\n    yield Slot.__module__\n"
    )
    assert m.score([1]) == ["fastscore.io"]
    import importlib.util
    import sys

    assert "fastscore" not in sys.modules
    if importlib.util.find_spec("fastscore") is None:
        with pytest.raises(ImportError):
            import fastscore  # noqa: F401


def test_cells_and_pools_are_not_supported():
    m = Model("cells", "import fastscore\ndef action(x):\n    fastscore.cells('c').set(0)\n    yield x\n")
    with pytest.raises(NotSupportedError, match="not supported yet"):
        m.score([1])


def test_snapshots_eof_is_not_supported():
    m = Model("snap", "# fastscore.snapshots: eof\ndef action(x):\n    yield x\n")
    assert m.annotations.snapshots == "eof"
    with pytest.raises(NotSupportedError, match="snapshots"):
        m.score([1])


def test_model_error_carries_context():
    m = Model("boom_ctx", "def action(x):\n    yield 10 / x\n")
    with pytest.raises(ModelError) as info:
        m.score([5, 0])
    err = info.value
    assert (err.slot, err.record_index, err.input, err.line) == (0, 1, 0, 2)
    assert "ZeroDivisionError" in str(err)
    assert 'File "<model boom_ctx>", line 2, in action' in err.traceback
    assert "yield 10 / x" in err.traceback


def test_inputs_shapes():
    m = Model("echo", "def action(x):\n    yield x\n")
    assert m.score(pd.DataFrame({"a": [1, 2]})) == [{"a": 1}, {"a": 2}]
    assert m.score(pd.Series([1.5, 2.5])) == [1.5, 2.5]
    assert m.score(np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert m.score(x for x in (1, 2)) == [1, 2]
    assert m.score([]) == []
    with pytest.raises(ModelError, match="pass a list of records"):
        m.score({"a": 1})
    with pytest.raises(ModelError, match="list of records"):
        m.score("abc")
    with pytest.raises(ModelError, match="slot 2 is not an input slot"):
        m.score({2: [1]})
    with pytest.raises(ValueError, match="errors"):
        m.score([1], errors="ignore")


def test_numpy_outputs_become_python():
    m = Model(
        "np", "import numpy as np\ndef action(x):\n    yield {'A': np.float32(0.5), 'B': np.int64(2)}\n"
    )
    out = m.score([1])
    assert out == [{"A": 0.5, "B": 2}]
    assert type(out[0]["A"]) is float and type(out[0]["B"]) is int


# ------------------------------------------------------------------ validate and display


def test_validate_report():
    m = Model("m", "def action(x):\n    yield {'v': x * 0.1, 'l': [x, x / 3]}\n")
    ok = m.validate([1, 2], [{"v": 0.1, "l": [1, 1 / 3]}, {"v": 0.2, "l": (2, 2 / 3)}])
    assert ok and ok.ok and ok.mismatches == []
    assert "all 2 outputs match" in repr(ok)
    bad = m.validate([1, 2, 3], [{"v": 0.1, "l": [1, 1 / 3]}, {"v": 0.25, "l": [2, 2 / 3]}])
    assert not bad
    assert [(x.index, x.got is MISSING, x.expected is MISSING) for x in bad.mismatches] == [
        (1, False, False),
        (2, False, True),
    ]
    assert "2 of 3 outputs differ" in repr(bad) and "#1: expected" in repr(bad)
    assert "<table>" in bad._repr_html_()


def test_validate_tolerance_and_nan():
    m = Model("m", "def action(x):\n    yield x + 1e-12\n")
    assert m.validate([1.0], [1.0])
    assert not m.validate([1.0], [1.0], rel_tol=1e-15)
    assert Model("nan", "def action(x):\n    yield float('nan')\n").validate([1], [math.nan])
    assert not Model("b", "def action(x):\n    yield True\n").validate([1], [1])


def test_validate_dataframe_expected():
    out = rs_model().validate(pd.DataFrame(DOC_RS_IN), pd.DataFrame(DOC_RS_OUT))
    assert out, out


def test_repr_and_html():
    m = Model(
        "splitter",
        src("""
        # fastscore.schema.$all: array-double
        # fastscore.slot.3: in-use
        # fastscore.recordsets.3: true
        def action(datum):
            yield datum
    """),
        schemas={"array-double": ARRAY_DOUBLE},
    )
    text = repr(m)
    assert text.splitlines()[0] == "Model('splitter', python3, call-back)"
    assert "slot  direction  schema" in text
    assert "3     output     array-double  yes" in text
    page = m._repr_html_()
    assert "<table>" in page and "<td>array-double</td>" in page and "call-back" in page
    assert "explicit" in repr(Model("e", EXPLICIT))


# ------------------------------------------------------------------ engine-facing helpers


def test_check_imports_without_running(tmp_path):
    m = Model("needs", "import json\nfrom shipped_mod import f\nimport shipped_pkg.sub\n")
    with pytest.raises(ModelError, match="module 'shipped_mod' not found") as info:
        m.check_imports()
    assert info.value.line == 2
    archive = tmp_path / "libs.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("shipped_mod.py", "shipped_pkg/__init__.py", "shipped_pkg/sub.py"):
            info_ = tarfile.TarInfo(name)
            tar.addfile(info_, io.BytesIO(b""))
    m.attach(archive)
    m.check_imports()
    Model("r", "library(foo)\n", "r").check_imports()  # not Python: nothing to check


def test_slot_info_as_dict():
    m = Model("m", "# fastscore.schema.0: double\n# fastscore.recordsets.1: true\n")
    assert [s.as_dict() for s in m.slots] == [
        {"slot": 0, "direction": "input", "schema": "double", "recordsets": False, "action": "action"},
        {"slot": 1, "direction": "output", "schema": None, "recordsets": True, "action": None},
    ]


def test_library_resolution():
    from fastscore_sdk.library import Library

    lib = Library()
    lib.schemas["close_price"] = {
        "type": "record",
        "name": "close_price",
        "fields": [{"name": "Date", "type": "double"}, {"name": "Close", "type": "double"}],
    }
    m = Model("lr", "# fastscore.schema.0: close_price\ndef action(x):\n    yield x['Close']\n", library=lib)
    assert m.schema(0).fields == ["Date", "Close"]
    assert m.score([{"Date": 1.0, "Close": 2.5}]) == [2.5]
    previous = Library._default
    Library.set_default(lib)
    try:
        assert Model("lr2", "# fastscore.schema.0: close_price\n").schema(0).name == "close_price"
    finally:
        Library.set_default(previous)


def test_same_name_different_source_keeps_its_own_traceback_lines():
    a = Model("twin", "def action(x):\n    yield 1 / 0  # first\n")
    b = Model("twin", "def action(x):\n    yield [][1]  # second\n")
    with pytest.raises(ModelError) as ea:
        a.score([1])
    with pytest.raises(ModelError) as eb:
        b.score([1])
    assert "# first" in ea.value.traceback and "# second" in eb.value.traceback


def test_model_pickles():
    import pickle

    m = Model("p", "# fastscore.schema.0: double\ndef action(x):\n    yield x * 2\n")
    copy = pickle.loads(pickle.dumps(m))
    assert copy.score([1.5]) == [3.0] and copy.schema(0).name == "double"


def test_console_callback_failure_does_not_break_the_model(caplog):
    def broken(line):
        raise RuntimeError("display gone")

    m = Model("chatty", "def action(x):\n    print(x)\n    yield x\n")
    assert m.score([1], console=broken) == [1]
    assert "console callback failed" in caplog.text
