"""Binder: a fresh virtual environment built only from binder/'s files runs the tutorials.

The environment is what repo2docker builds: ``pip install -r binder/requirements.txt``, then
``binder/postBuild`` from the repository root (``pip install -e .``). It is cached in pytest's cache
folder, keyed by those files, so only the first run (about a minute and a half) installs anything.
When the package index cannot be reached the test cannot build it, and says so through
:func:`fastscore_sdk.testing.unavailable` (a failure under ``FASTSCORE_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastscore_sdk.testing import unavailable

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
#: Run in the Binder environment: the offline tutorials (the others need servers Binder starts).
NOTEBOOKS = ["01_streams_and_sampling.ipynb", "02_xgboost_iris.ipynb"]

_NETWORK_TROUBLE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Could not fetch URL",
    "ConnectionError",
    "ReadTimeoutError",
    "Max retries exceeded",
)


def _key() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "postBuild"):
        digest.update((BINDER / name).read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:12]


def _run(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def binder_env(request, tmp_path_factory) -> dict[str, str]:
    """Environment variables (PATH first) of the Binder-like virtual environment."""
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    base = Path(cache.mkdir("fastscore-binder")) if cache is not None else tmp_path_factory.mktemp("binder")
    key = _key()
    venv = base / f"venv-{key}"
    for stale in base.glob("venv-*"):
        if stale != venv:
            shutil.rmtree(stale, ignore_errors=True)
    bin_dir = venv / "bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
    env.pop("PYTHONPATH", None)
    ready = venv / ".requirements-installed"
    if not ready.exists():
        shutil.rmtree(venv, ignore_errors=True)
        made = _run([sys.executable, "-m", "venv", str(venv)])
        assert made.returncode == 0, made.stderr
        install = _run(
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", "-r", str(BINDER / "requirements.txt")],
            env=env,
        )
        if install.returncode != 0:
            output = install.stdout + install.stderr
            shutil.rmtree(venv, ignore_errors=True)
            if any(text in output for text in _NETWORK_TROUBLE):
                unavailable(
                    f"cannot build the Binder environment: the package index is unreachable ({output[-300:]})"
                )
            pytest.fail(f"pip install -r binder/requirements.txt failed:\n{output[-3000:]}")
        ready.write_text(key)
    # postBuild, as Binder runs it: from the repository root, the environment's python first on PATH.
    # Run again whenever the environment's editable install points to another checkout.
    # The check runs outside the checkout, where only an installed package can be imported.
    where = _run(
        [str(bin_dir / "python"), "-c", "import fastscore_sdk; print(fastscore_sdk.__file__)"],
        env=env,
        cwd=venv,
    )
    if where.returncode != 0 or not where.stdout.strip().startswith(str(ROOT)):
        built = _run(["bash", str(BINDER / "postBuild")], env=env)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return env


def test_binder_files_are_executable():
    for name in ("postBuild", "start"):
        assert os.access(BINDER / name, os.X_OK), f"binder/{name} must be executable"
    assert "pip install" in (BINDER / "postBuild").read_text()
    assert 'exec "$@"' in (BINDER / "start").read_text()


def test_postbuild_installs_this_checkout_and_registers_nothing(binder_env):
    code = (
        "import fastscore_sdk, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "assert 'fastscore' not in ip.magics_manager.magics['line']\n"
        "print(fastscore_sdk.__file__, sys.prefix)\n"
    )
    done = _run(["python", "-c", code], env=binder_env, cwd=Path(binder_env["VIRTUAL_ENV"]))
    assert done.returncode == 0, done.stderr
    module, prefix = done.stdout.split()
    assert module.startswith(str(ROOT)) and prefix == binder_env["VIRTUAL_ENV"]


def test_tutorials_run_in_the_binder_environment(binder_env):
    paths = [str(ROOT / "notebooks" / name) for name in NOTEBOOKS]
    cmd = [
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--color=no",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "notebooks" / "nbval_sanitize.cfg"),
        *paths,
    ]
    done = _run(cmd, env=binder_env, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed in " in done.stdout.strip().splitlines()[-1]


def test_start_script_starts_a_kafka_broker_then_runs_the_command(binder_env):
    env = {k: v for k, v in binder_env.items() if not k.startswith("FASTSCORE_KAFKA_")}
    probe = "import os; print(os.environ['FASTSCORE_KAFKA_BOOTSTRAP'], os.environ['FASTSCORE_KAFKA_PID'])"
    done = _run(["bash", str(BINDER / "start"), "python", "-c", probe], env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    address, pid_text = done.stdout.split()
    pid = int(pid_text)
    try:
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1"
        with socket.create_connection((host, int(port)), timeout=5):
            pass
        assert "Kafka broker on" in done.stderr
    finally:
        # The broker outlives the start script by design (it serves the notebook server); this
        # test started it, so it stops it.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        assert not _alive(pid), f"the broker (pid {pid}) did not stop"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; an exited process nobody reaped yet (a zombie) counts as ended."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
