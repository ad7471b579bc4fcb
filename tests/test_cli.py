"""The `fastscore` command over a library folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fastscore_sdk.cli import hexdump, main


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "library").mkdir()
    return tmp_path / "library"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "fastscore_sdk" in capsys.readouterr().out


def test_stream_add_show_list_verify_sample_remove(lib, capsys, tmp_path):
    data = tmp_path / "in.jsons"
    data.write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    desc = tmp_path / "in.json"
    desc.write_text(
        json.dumps({"Transport": {"Type": "file", "Path": str(data)}, "Loop": False, "Encoding": "json"})
    )
    assert run(capsys, "stream", "add", "in", str(desc))[0] == 0
    assert (lib / "streams" / "in.json").exists()
    code, out, _ = run(capsys, "stream", "list")
    assert out.split() == ["in"]
    code, out, _ = run(capsys, "stream", "show", "in")
    assert json.loads(out)["Encoding"] == "json"
    code, out, _ = run(capsys, "stream", "verify", "in", "0", "-v")
    assert code == 0 and "The stream descriptor contains no errors" in out
    assert '"loop": false' in out
    code, out, _ = run(capsys, "stream", "sample", "in", "--count", "2")
    assert out.splitlines() == ['   1: {"a": 1}', '   2: {"a": 2}']
    code, out, _ = run(capsys, "stream", "sample", "in", "--table")
    assert "a" in out.splitlines()[0] and len(out.splitlines()) == 4
    assert run(capsys, "stream", "remove", "in")[0] == 0
    code, _, err = run(capsys, "stream", "show", "in")
    assert code == 1 and "in" in err


def test_stream_verify_reports_problems_with_codes(lib, capsys):
    code, _, err = run(capsys, "stream", "verify", "udp::9099", "1")
    assert code == 1
    assert "FS-" in err


def test_stream_sample_literal_and_hex_dump(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.bin").write_bytes(bytes(range(20)))
    code, out, _ = run(capsys, "stream", "sample", "inline:1,2")
    assert code == 0
    assert out.splitlines() == ["   1: 1", "   2: 2"]
    desc = json.dumps(
        {
            "Transport": {"Type": "file", "Path": "b.bin"},
            "Loop": False,
            "Envelope": {"Type": "fixed", "Size": 10},
            "Encoding": None,
        }
    )
    (tmp_path / "library").mkdir()
    (tmp_path / "d.json").write_text(desc)
    run(capsys, "stream", "add", "bin", "d.json")
    code, out, _ = run(capsys, "stream", "sample", "bin")
    assert code == 0
    assert "0000  00 01 02 03 04 05 06 07  08 09" in out


def test_plaintext_secret_refused(lib, capsys, tmp_path):
    desc = tmp_path / "s3.json"
    desc.write_text(
        json.dumps(
            {
                "Transport": {
                    "Type": "S3",
                    "Bucket": "b",
                    "ObjectKey": "k",
                    "SecretAccessKey": "hunter2-secret",
                }
            }
        )
    )
    code, out, err = run(capsys, "stream", "add", "s3", str(desc))
    assert code == 1
    assert "secret://" in err
    assert "hunter2-secret" not in out + err


def test_schema_commands(lib, capsys, tmp_path):
    (tmp_path / "int.avsc").write_text('"int"')
    assert run(capsys, "schema", "add", "s2", str(tmp_path / "int.avsc"))[0] == 0
    data = tmp_path / "data.jsons"
    data.write_text('2\n"fastscore"\n[]\n3\n{bad\n')
    code, out, _ = run(capsys, "schema", "verify", "s2", str(data))
    lines = out.splitlines()
    assert lines[0] == "Schema OK"
    statuses = [line.split()[0] for line in lines[1:] if not line.startswith("     ")]
    assert statuses == ["OK", "FAIL", "FAIL", "OK", "JSON"]
    assert "Int expected" in out
    assert code == 1
    code, out, _ = run(capsys, "schema", "list")
    assert out.split() == ["s2"]


def test_schema_infer_is_deterministic_and_tolerates_trailing_newline(capsys, tmp_path):
    path = tmp_path / "iris.jsons"
    path.write_text('{"a": 1.5, "b": "x"}\n{"a": 2.0, "b": "y"}\n\n')
    code, first, _ = run(capsys, "schema", "infer", str(path))
    code2, second, _ = run(capsys, "schema", "infer", str(path))
    assert code == code2 == 0 and first == second
    schema = json.loads(first)
    assert [f["type"] for f in schema["fields"]] == ["double", "string"]


def test_missing_library_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "stream", "list")
    assert code == 1 and "--library" in err


def test_hexdump_format():
    assert (
        hexdump(b"\x00\x01fastscore")
        == "0000  00 01 66 61 73 74 73 63  6f 72 65                 |..fastscore|"
    )


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "fastscore_sdk", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "fastscore_sdk" in result.stdout


def test_model_add_list_show_verify_score_remove(lib, capsys, tmp_path):
    src = tmp_path / "double.py3"
    src.write_text(
        "# fastscore.schema.0: double\n# fastscore.schema.1: double\ndef action(x):\n    yield x * 2\n"
    )
    assert run(capsys, "model", "add", "double", str(src))[0] == 0
    assert (lib / "models" / "double.py3").exists()
    assert run(capsys, "model", "list")[1].split() == ["double"]
    assert "yield x * 2" in run(capsys, "model", "show", "double")[1]
    code, out, _ = run(capsys, "model", "verify", "double")
    assert code == 0 and "The model contains no errors" in out
    data = tmp_path / "in.jsons"
    data.write_text("1.5\n2\n")
    code, out, _ = run(capsys, "model", "score", "double", str(data))
    assert code == 0 and out.split() == ["3.0", "4"]
    assert run(capsys, "model", "remove", "double")[0] == 0
    assert run(capsys, "model", "list")[1] == ""


def test_model_verify_names_a_bad_smart_comment_line(lib, capsys, tmp_path):
    src = tmp_path / "bad.py3"
    src.write_text("# model\n# fastscore.recordsets.0: maybe\ndef action(x):\n    yield x\n")
    code, _, err = run(capsys, "model", "verify", str(src))
    assert code == 1 and "line 2" in err


def test_run_in_process_file_to_file(lib, capsys, tmp_path):
    src = tmp_path / "m.py3"
    src.write_text("def action(x):\n    yield x + 1\n")
    out = tmp_path / "out.jsons"
    code, _, err = run(capsys, "run", str(src), "inline:1,2,3", f"file:{out}")
    assert code == 0, err
    assert out.read_text().split() == ["2", "3", "4"]
