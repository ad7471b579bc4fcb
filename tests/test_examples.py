"""The shipped iris example, end to end through the `fastscore` command (the README's main job)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRIS = ROOT / "examples" / "iris"

pytest.importorskip(
    "xgboost", reason="the iris example needs the 'examples' extra: pip install -e '.[examples]'"
)


def fastscore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastscore_sdk", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def clone(tmp_path):
    """The example as a fresh clone has it, with the relative paths its descriptors use."""
    shutil.copytree(IRIS, tmp_path / "examples" / "iris")
    return tmp_path


def test_run_scores_every_input_line(clone):
    result = fastscore(
        "--library",
        "examples/iris/library",
        "run",
        "xgboost_iris",
        "iris-input",
        "file:iris_predictions.jsons",
        cwd=clone,
    )
    assert result.returncode == 0, result.stderr
    inputs = (clone / "examples/iris/iris_inputs.jsons").read_text().splitlines()
    outputs = [json.loads(line) for line in (clone / "iris_predictions.jsons").read_text().splitlines()]
    assert len(outputs) == len(inputs) == 25
    for out in outputs:
        assert set(out) == {"A", "B", "C"}
        assert abs(out["A"] + out["B"] + out["C"] - 1.0) < 1e-5
    # The inputs walk through the three species in order: setosa first, virginica last.
    assert max(outputs[0], key=outputs[0].get) == "A"
    assert max(outputs[-1], key=outputs[-1].get) == "C"
    assert "slot 1 out" in result.stderr and "25 records" in result.stderr


def test_model_verify_prints_the_slot_table(clone):
    result = fastscore("--library", "examples/iris/library", "model", "verify", "xgboost_iris", cwd=clone)
    assert result.returncode == 0, result.stderr
    assert "xgboost_iris_input" in result.stdout and "xgboost_iris_output" in result.stdout
    assert "The model contains no errors" in result.stdout


def test_failing_model_exits_non_zero_with_the_error(clone):
    model = clone / "bad.py3"
    model.write_text("def action(x):\n    yield 1 / 0\n")
    result = fastscore("run", str(model), "inline:1,2", "discard:", cwd=clone)
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stderr and "record 0" in result.stderr


def test_sample_the_example_stream_as_a_table(clone):
    result = fastscore(
        "--library",
        "examples/iris/library",
        "stream",
        "sample",
        "iris-input",
        "--count",
        "3",
        "--table",
        cwd=clone,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert len(lines) == 4
