"""The tree passes ruff (configured in pyproject.toml), so lint failures fail the test command."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    pytest.importorskip("ruff", reason="ruff is in the 'test' extra: pip install -e '.[test]'")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_passes():
    result = subprocess.run([*_ruff(), "check", "--no-cache", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
