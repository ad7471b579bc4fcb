"""The notebook magics, driven through an in-process IPython shell (``TestingShell``).

Every cell magic and ``%fastscore`` verb is run here, with its error cases: a bad cell gives one
short ``UsageError`` line naming the problem and its line or field, and binds and stores nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from IPython.core.error import UsageError

import fastscore_sdk as fs
from fastscore_sdk.errors import DescriptorError, ModelError
from fastscore_sdk.library import Library
from fastscore_sdk.notebook import magics as magics_module
from fastscore_sdk.notebook._testing import TestingShell, ensure_memory_transport
from fastscore_sdk.notebook.frames import collect

IRIS = {
    "type": "record",
    "name": "iris",
    "fields": [{"name": "sepal_length", "type": "double"}, {"name": "petal_width", "type": "double"}],
}
ROWS = [{"sepal_length": 5.1, "petal_width": 0.2}, {"sepal_length": 6.3, "petal_width": 1.8}]


@pytest.fixture
def ip():
    shell = TestingShell.preconfigured_shell()
    yield shell
    shell.clean()


@pytest.fixture
def memory_transport(monkeypatch):
    ensure_memory_transport(monkeypatch)


def cell(magic: str, body: str) -> str:
    return f"{magic}\n{textwrap.dedent(body).strip()}\n"


def run_error(ip, source: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        ip.run_cell(source)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return info.value


def define_iris(ip) -> None:
    ip.run_cell(cell("%%schema iris", json.dumps(IRIS, indent=2)))


def inline_desc(rows=ROWS, schema="iris") -> str:
    return json.dumps(
        {
            "Transport": {"Type": "inline", "Data": [json.dumps(r) for r in rows]},
            "Encoding": "json",
            "Schema": {"$ref": schema},
        }
    )


# ------------------------------------------------------------------------------------ loading


def test_nothing_is_registered_at_import():
    code = textwrap.dedent(
        """
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        import fastscore_sdk, fastscore_sdk.notebook.magics
        assert "schema" not in ip.magics_manager.magics["cell"], "registered at import"
        assert "fastscore" not in ip.magics_manager.magics["line"]
        ip.run_line_magic("load_ext", "fastscore_sdk")
        assert {"schema", "stream", "model"} <= set(ip.magics_manager.magics["cell"])
        assert "fastscore" in ip.magics_manager.magics["line"]
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_loading_twice_keeps_one_registration(ip):
    magics_module.load_ipython_extension(ip)
    found = [c for c in ip.configurables if isinstance(c, magics_module.FastScoreMagics)]
    assert len(found) == 1


def test_unload_removes_the_magics(ip):
    magics_module.unload_ipython_extension(ip)
    assert "schema" not in ip.magics_manager.magics["cell"]
    assert "fastscore" not in ip.magics_manager.magics["line"]
    assert not any(isinstance(c, magics_module.FastScoreMagics) for c in ip.configurables)
    ip.load_fastscore()
    assert "schema" in ip.magics_manager.magics["cell"]


# ------------------------------------------------------------------------------------ %%schema


def test_schema_binds_and_stores(ip):
    result = ip.run_cell(cell("%%schema iris", json.dumps(IRIS))).result
    assert isinstance(result, fs.Schema)
    assert ip.user_ns["iris"] is result
    assert result.fields == ["sepal_length", "petal_width"]
    assert Library.default().schemas["iris"].avro == IRIS


def test_schema_primitive_quiet_and_as(ip):
    result = ip.run_cell(cell("%%schema price --as p --quiet", "double")).result
    assert result is None
    assert ip.user_ns["p"].avro == "double"
    assert "price" not in ip.user_ns
    assert Library.default().schemas["price"].avro == "double"


def test_schema_invalid_json_names_the_cell_line(ip):
    err = run_error(ip, '%%schema bad\n{"type": "record",\n "name": "x",\n "fields": [}\n')
    # The %%schema line is line 1, as the notebook numbers it: the broken line is line 4.
    assert "not valid JSON at line 4" in str(err)
    assert "bad" not in ip.user_ns and "bad" not in Library.default().schemas


def test_schema_invalid_avro_names_the_field(ip):
    avro = {"type": "record", "name": "r", "fields": [{"name": "price", "type": "dubble"}]}
    err = run_error(ip, cell("%%schema bad", json.dumps(avro)))
    assert "$.price" in str(err) and "dubble" in str(err)
    assert err.error_type == "SchemaError"
    assert "bad" not in ip.user_ns and "bad" not in Library.default().schemas


def test_schema_error_keeps_the_previous_binding(ip):
    ip.run_cell(cell("%%schema price", "double"))
    before = ip.user_ns["price"]
    run_error(ip, cell("%%schema price", '{"type": "nope"}'))
    assert ip.user_ns["price"] is before
    assert Library.default().schemas["price"].avro == "double"


def test_schema_empty_cell_and_bad_name(ip):
    assert "empty" in str(run_error(ip, "%%schema empty\n   \n"))
    err = run_error(ip, cell("%%schema ../escape", "double"))
    assert "invalid schema name" in str(err)
    assert not [k for k, v in ip.user_ns.items() if isinstance(v, fs.Schema)]


def test_schema_missing_name_is_a_usage_error(ip):
    with pytest.raises(UsageError):
        ip.run_cell("%%schema\ndouble\n")


# ------------------------------------------------------------------------------------ %%stream


def test_stream_from_json(ip):
    define_iris(ip)
    s = ip.run_cell(cell("%%stream iris-in", inline_desc())).result
    assert isinstance(s, fs.Stream) and s.name == "iris-in"
    assert ip.user_ns["iris_in"] is s  # not a Python name: bound as iris_in
    assert Library.default().streams["iris-in"].desc == s.desc
    assert s.sample().records == ROWS


def test_stream_from_literal(ip):
    s = ip.run_cell(cell("%%stream nums", "inline:1,2,3")).result
    assert s.sample().records == [1, 2, 3]
    assert ip.user_ns["nums"] is s


def test_stream_unknown_transport(ip):
    err = run_error(ip, cell("%%stream bad", '{"Transport": {"Type": "carrier-pigeon"}, "Encoding": "json"}'))
    assert "Transport.Type" in str(err) and "carrier-pigeon" in str(err)
    assert err.error_type == "DescriptorError"
    assert "bad" not in ip.user_ns and "bad" not in Library.default().streams


def test_stream_several_problems_in_one_line(ip):
    err = run_error(
        ip, cell("%%stream bad", '{"Transport": {"Type": "REST"}, "Loop": true, "Encoding": "jsn"}')
    )
    assert "more problem" in str(err)


def test_stream_invalid_json_names_the_line(ip):
    err = run_error(ip, '%%stream bad\n{\n  "Transport": "REST",\n  "Encoding": json\n}\n')
    assert "line 4" in str(err)
    assert "bad" not in ip.user_ns


def test_stream_unresolved_schema_name(ip):
    err = run_error(ip, cell("%%stream in", inline_desc(schema="no_such_schema")))
    assert "no_such_schema" in str(err)
    assert "in" not in ip.user_ns and "in" not in Library.default().streams


def test_stream_literal_must_be_one_line(ip):
    assert "one line" in str(run_error(ip, "%%stream two\ninline:1\ninline:2\n"))


def test_stream_secrets_are_never_shown(ip, tmp_path):
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k.jsons",
            "AccessKeyID": "AKIAEXAMPLE",
            "SecretAccessKey": "hunter2-very-secret",
        },
        "Encoding": "json",
    }
    s = ip.run_cell(cell("%%stream s3-in", json.dumps(desc))).result
    for text in (repr(s), s._repr_html_(), json.dumps(ip.run_line_magic("fastscore", "verify s3-in"))):
        assert "hunter2-very-secret" not in text and "AKIAEXAMPLE" not in text
    # A folder library refuses the plaintext secret: one line, no secret in it, nothing bound.
    ip.run_line_magic("config", f"FastScoreMagics.library_path = {str(tmp_path)!r}")
    err = run_error(ip, cell("%%stream s3-out", json.dumps(desc)))
    assert "secret://" in str(err) and "hunter2" not in str(err)
    assert "s3_out" not in ip.user_ns and not (tmp_path / "streams").exists()


def test_stream_missing_secret_reference(ip, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET_XYZ", raising=False)
    desc = {"Transport": {"Type": "HTTP", "Url": "https://u:secret://NO_SUCH_SECRET_XYZ@example.com/x"}}
    err = run_error(ip, cell("%%stream web", json.dumps(desc)))
    assert "NO_SUCH_SECRET_XYZ" in str(err)
    assert "web" not in ip.user_ns


def test_name_collision_warns(ip):
    ip.run_cell(cell("%%schema iris_in", json.dumps(IRIS)))
    with pytest.warns(UserWarning, match="held a schema"):
        ip.run_cell(cell("%%stream iris-in", inline_desc(schema="iris_in")))
    s = ip.run_cell(cell("%%stream iris-in --as iris_stream", inline_desc(schema="iris_in"))).result
    assert ip.user_ns["iris_stream"] is s


def test_bad_as_name(ip):
    assert "not a valid Python variable name" in str(run_error(ip, cell("%%schema x --as 1x", "int")))


# ------------------------------------------------------------------------------------ %%model

MODEL = """
# fastscore.schema.0: iris
# fastscore.schema.1: double
def action(r):
    yield r["sepal_length"] * 10
"""


def test_model_resolves_schemas_from_the_library(ip):
    define_iris(ip)
    del ip.user_ns["iris"]  # only the library has it now
    m = ip.run_cell(cell("%%model m10", MODEL)).result
    assert isinstance(m, fs.Model) and ip.user_ns["m10"] is m
    assert m.score(ROWS) == [51.0, 63.0]
    assert Library.default().models["m10"] is m


def test_model_resolves_schemas_from_notebook_variables_by_either_name(ip):
    # The original %%model ignored a schema bound under another variable name; this one finds it.
    ip.user_ns["iris_schema"] = fs.Schema("iris", IRIS)
    m = ip.run_cell(cell("%%model m10", MODEL)).result
    assert m.schema(0).name == "iris"
    ip.user_ns["flowers"] = fs.Schema(None, IRIS)
    m = ip.run_cell(cell("%%model m11", MODEL.replace("schema.0: iris", "schema.0: flowers"))).result
    assert m.score(ROWS[:1]) == [51.0]


def test_model_type_option(ip):
    m = ip.run_cell(cell("%%model echo --type python3", "def action(x):\n    yield x")).result
    assert m.mtype == "python3"
    assert "unknown model type" in str(
        run_error(ip, cell("%%model echo2 --type cobol", "def action(x): yield x"))
    )


def test_model_unresolved_schema_names_the_cell_line(ip):
    err = run_error(ip, cell("%%model bad", MODEL))
    # "# fastscore.schema.0: iris" is the cell's second line (the %%model line is the first).
    assert "schema 'iris' not found" in str(err) and "line 2" in str(err)
    assert err.error_type == "ModelError"
    assert "bad" not in ip.user_ns and "bad" not in Library.default().models


def test_model_syntax_error_names_the_line(ip):
    err = run_error(ip, "%%model bad\ndef action(x):\n    yield x +\n")
    assert "line 3" in str(err)
    assert "bad" not in ip.user_ns


def test_model_missing_import(ip):
    err = run_error(ip, "%%model bad\nimport no_such_module_xyz\ndef action(x):\n    yield x\n")
    assert "no_such_module_xyz" in str(err)
    assert "bad" not in ip.user_ns and "bad" not in Library.default().models


def test_model_body_is_not_interpolated(ip):
    ip.user_ns["x"] = "SHOULD NOT APPEAR"
    m = ip.run_cell(cell("%%model braces", 'def action(v):\n    yield f"{{x}}={v}"')).result
    assert m.score([1]) == ["{x}=1"]


def test_model_empty_cell(ip):
    assert "empty" in str(run_error(ip, "%%model m\n\n"))


# ------------------------------------------------------------------------------------ %fastscore sample / verify


def test_sample_by_variable_library_name_and_literal(ip):
    define_iris(ip)
    ip.run_cell(cell("%%stream iris-in --as flowers", inline_desc()))
    by_var = ip.run_line_magic("fastscore", "sample flowers")
    by_name = ip.run_line_magic("fastscore", "sample iris-in -n 1")
    literal = ip.run_line_magic("fastscore", "sample inline:1,2,3,4 -n 3")
    assert isinstance(by_var, pd.DataFrame)
    assert by_var.to_dict("records") == ROWS
    assert len(by_name) == 1
    assert literal["value"].tolist() == [1, 2, 3]


def test_sample_size_is_configurable(ip):
    ip.run_line_magic("config", "FastScoreMagics.sample_size = 2")
    assert len(ip.run_line_magic("fastscore", "sample inline:1,2,3,4")) == 2
    ip.run_line_magic("config", "FastScoreMagics.sample_size = -1")  # refused (and logged) by %config
    assert magics_module._find(ip).sample_size == 2


def test_sample_warns_about_rejected_records(ip):
    define_iris(ip)
    ip.run_cell(cell("%%stream mixed", inline_desc(rows=[*ROWS, {"sepal_length": "x"}])))
    with pytest.warns(UserWarning, match="1 records of stream 'mixed' were rejected"):
        df = ip.run_line_magic("fastscore", "sample mixed")
    assert len(df) == 2


def test_sample_unknown_stream(ip):
    err = run_error(ip, "%fastscore sample nothing_here")
    assert "no stream 'nothing_here'" in str(err)


def test_sample_unreachable_file(ip, tmp_path):
    err = run_error(ip, f"%fastscore sample file:{tmp_path}/missing.jsons")
    assert "missing.jsons" in str(err)


def test_verify_returns_the_interpreted_form_and_checks_the_slot(ip):
    form = ip.run_line_magic("fastscore", "verify inline:1,2")
    assert form["transport"] == {"type": "inline", "data": ["1", "2"]}
    err = run_error(ip, "%fastscore verify inline:1,2 1")
    assert "slot 1" in str(err)


# ------------------------------------------------------------------------------------ %fastscore run and friends


def test_run_wait_stats_inspect_reset(ip, memory_transport):
    define_iris(ip)
    ip.run_cell(cell("%%stream iris-in", inline_desc()))
    ip.run_cell(cell("%%model m10", MODEL))
    ip.user_ns["out"] = collect("magic-run-out")
    ip.run_line_magic("config", "FastScoreMagics.progress = False")
    eng = ip.run_line_magic("fastscore", "run m10 iris-in out --wait --timeout 30")
    assert eng.state == "FINISHED"
    assert ip.user_ns["out"].records == [51.0, 63.0]
    stats = ip.run_line_magic("fastscore", "stats")
    assert stats.loc[0, "records"] == 2 and stats.loc[1, "records"] == 2
    info = ip.run_line_magic("fastscore", "inspect")
    assert info["state"] == "FINISHED" and info["model"]["name"] == "m10"
    # A finished engine is reset by the next run.
    again = ip.run_line_magic("fastscore", "run m10 iris-in out --wait")
    assert again is eng and eng.state == "FINISHED"
    ip.run_line_magic("fastscore", "reset")
    assert eng.state == "INIT" and eng.model is None


def test_run_with_progress_bar(ip, memory_transport, capsys):
    out = collect("magic-progress")
    ip.user_ns["out"] = out
    m = fs.Model("plus1", "def action(x):\n    yield x + 1\n")
    ip.user_ns["plus1"] = m
    eng = ip.run_line_magic("fastscore", "run plus1 inline:1,2,3 out --wait")
    assert eng.state == "FINISHED" and out.records == [2, 3, 4]
    assert "records" in capsys.readouterr().err  # tqdm's text bar, outside a notebook


def test_run_model_file(ip, memory_transport, tmp_path):
    path = tmp_path / "triple.py3"
    path.write_text("def action(x):\n    yield x * 3\n")
    ip.user_ns["out"] = collect("magic-file")
    ip.run_line_magic("config", "FastScoreMagics.progress = False")
    ip.run_line_magic("fastscore", f"run {path} inline:1,2 out --wait")
    assert ip.user_ns["out"].records == [3, 6]


def test_run_errors_leave_no_half_loaded_engine(ip):
    ip.user_ns["m"] = fs.Model("plus1", "def action(x):\n    yield x + 1\n")
    err = run_error(ip, "%fastscore run nothing inline:1 discard:")
    assert "no model 'nothing'" in str(err)
    # The model loads, then the output stream cannot go on slot 1 (inline is input only).
    err = run_error(ip, "%fastscore run m inline:1 inline:2")
    assert "slot 1" in str(err)
    info = ip.run_line_magic("fastscore", "inspect")
    assert info["model"] is None and info["streams"] == {} and info["state"] == "INIT"


def test_run_refuses_while_running(ip):
    ip.user_ns["m"] = fs.Model("slow", "import time\ndef action(x):\n    time.sleep(0.2)\n    yield x\n")
    ip.user_ns["looping"] = fs.Stream(
        "looping", {"Transport": {"Type": "inline", "Data": ["1"]}, "Loop": True}
    )
    with pytest.warns(UserWarning, match="will not end"):
        eng = ip.run_line_magic("fastscore", "run m looping discard:")
    try:
        err = run_error(ip, "%fastscore run m inline:1 discard:")
        assert "RUNNING" in str(err) and "stop" in str(err)
        ip.run_line_magic("fastscore", "stop")
        assert eng.state == "FINISHED"
    finally:
        eng.reset()


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_serve_the_session_engine(ip):
    import requests

    trip = fs.Stream(
        "trip", {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
    )
    ip.user_ns.update(trip=trip, m=fs.Model("times5", "def action(x):\n    yield x * 5\n"))
    ip.run_line_magic("fastscore", "run m trip trip")
    server = ip.run_line_magic("fastscore", "serve --tls --auth fastscore:fastscore")
    try:
        assert server.url.startswith("https://127.0.0.1:")
        url = f"{server.url}/api/1/service/engine-1/2/active/model/roundtrip/0/1"
        assert requests.post(url, data="20", verify=False, timeout=10).status_code == 401
        answer = requests.post(url, data="20", auth=("fastscore", "fastscore"), verify=False, timeout=10)
        assert (answer.status_code, answer.text) == (200, "100")
        # Serving again replaces the first server.
        second = ip.run_line_magic("fastscore", "serve --port 0")
        assert second is not server and second.url.startswith("http://127.0.0.1:")
    finally:
        ip.run_line_magic("fastscore", "reset")
    assert "USER:PASSWORD" in str(run_error(ip, "%fastscore serve --auth nocolon"))


def test_line_magic_usage_errors(ip, capsys):
    assert "needs a verb" in str(run_error(ip, "%fastscore"))
    assert "invalid choice" in str(run_error(ip, "%fastscore bogus"))
    assert "required" in str(run_error(ip, "%fastscore sample"))
    assert "invalid int" in str(run_error(ip, "%fastscore sample inline:1 -n many"))
    assert "quotation" in str(run_error(ip, "%fastscore sample 'inline:1"))
    assert ip.run_line_magic("fastscore", "-h") is None
    assert "sample" in capsys.readouterr().out


def test_short_errors_off_raises_the_original(ip):
    ip.run_line_magic("config", "FastScoreMagics.short_errors = False")
    with pytest.raises(DescriptorError):
        ip.run_cell_magic("stream", "bad", '{"Transport": {"Type": "carrier-pigeon"}}')
    with pytest.raises(ModelError):
        ip.run_cell_magic("model", "bad", "# fastscore.schema.0: nowhere\ndef action(x):\n    yield x\n")
    assert "bad" not in ip.user_ns


def test_display_objects_off(ip):
    ip.run_line_magic("config", "FastScoreMagics.display_objects = False")
    assert ip.run_cell(cell("%%schema price", "double")).result is None
    assert ip.user_ns["price"].avro == "double"


def test_library_path_option(ip, tmp_path):
    ip.run_line_magic("config", f"FastScoreMagics.library_path = {str(tmp_path)!r}")
    ip.run_cell(cell("%%schema price", "double"))
    ip.run_cell(cell("%%stream nums", "inline:1,2"))
    ip.run_cell(cell("%%model echo", "def action(x):\n    yield x"))
    assert json.loads((tmp_path / "schemas" / "price.avsc").read_text()) == "double"
    assert (tmp_path / "streams" / "nums.json").is_file()
    assert "def action" in (tmp_path / "models" / "echo.py3").read_text()
    ip.run_line_magic("config", "FastScoreMagics.library_path = ''")
    assert Library.default().in_memory and "price" not in Library.default().schemas


# ------------------------------------------------------------------------------------ interpolation


def test_interpolation_in_bodies_and_arguments(ip, tmp_path):
    data = tmp_path / "in.jsons"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    ip.user_ns["path"] = str(data)
    ip.user_ns["iris_avro"] = fs.Schema("iris", IRIS)
    ip.user_ns["stream_name"] = "from-file"
    body = '{"Transport": {"Type": "file", "Path": "{{path}}"}, "Loop": false, "Encoding": "json", "Schema": {{ iris_avro }}}'
    s = ip.run_cell(cell("%%stream {{stream_name}}", body)).result
    assert s.name == "from-file"
    assert s.desc["Transport"]["Path"] == str(data) and s.desc["Schema"] == IRIS
    df = ip.run_line_magic("fastscore", "sample file:{{path}} -n 1")
    assert df.to_dict("records") == ROWS[:1]


def test_interpolation_unknown_name(ip):
    err = run_error(ip, cell("%%stream s", '{"Transport": {"Type": "file", "Path": "{{nowhere}}"}}'))
    assert "nowhere" in str(err)
    assert "s" not in ip.user_ns


def test_ipython_expansion_is_off(ip):
    ip.user_ns["x"] = "EXPANDED"
    form = ip.run_line_magic("fastscore", "verify inline:$x,{x}")
    assert form["transport"]["data"] == ["$x", "{x}"]


def test_interpolate_function():
    ns = {"n": 3, "s": fs.Schema("p", "double"), "obj": object()}
    assert magics_module.interpolate("{{n}} {{s}}", ns) == '3 "double"'
    assert magics_module.interpolate("{{obj}}", ns).startswith("<object")
    assert magics_module.interpolate("{ {n} }", ns) == "{ {n} }"
    with pytest.raises(UsageError, match="no attribute"):
        magics_module.interpolate("{{n.nope}}", ns)


def test_options_come_from_the_shell_configuration(ip):
    magics_module.unload_ipython_extension(ip)
    ip.config.FastScoreMagics.sample_size = 3
    ip.config.FastScoreMagics.short_errors = False
    try:
        ip.load_fastscore()
        magics = magics_module._find(ip)
        assert magics.sample_size == 3 and magics.short_errors is False
        assert len(ip.run_line_magic("fastscore", "sample inline:1,2,3,4,5")) == 3
    finally:
        del ip.config.FastScoreMagics["sample_size"]
        del ip.config.FastScoreMagics["short_errors"]
        magics_module.unload_ipython_extension(ip)
        ip.load_fastscore()
    assert magics_module._find(ip).sample_size == 10
