"""The exec transport: conformance suite plus exit statuses, stderr, timeouts and process cleanup."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.exec import ExecSink, ExecSource, ExecTransport

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses /bin/sh")


def sh(script: str, *args: str) -> dict[str, Any]:
    return {"type": "exec", "run": "/bin/sh", "args": ["-c", script, "sh", *args]}


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


class TestExec(TransportConformance):
    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        path = tmp_path / "payload.bin"
        path.write_bytes(payload)
        return {"type": "exec", "run": "/bin/cat", "args": [str(path)]}

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return sh('cat > "$1"', str(tmp_path / "out.bin"))

    def read_back(self, spec: dict[str, Any], sink: Sink) -> bytes:
        return Path(spec["args"][-1]).read_bytes()

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "exec", "run": "sleep", "args": ["30"]}

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "exec", "run": str(tmp_path / "no-such-program")}

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return sh("exit 4")


def test_printf_records() -> None:
    spec = {"type": "exec", "run": "/bin/sh", "args": ["-c", "printf '1\\n2\\n'"]}
    with open_transport(spec, stream="in").source() as src:
        assert b"".join(src) == b"1\n2\n"
        assert src.process.returncode == 0


def test_sink_feeds_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out.jsons"
    with open_transport(sh('cat > "$1"', str(out)), stream="out").sink() as sink:
        sink.write([b"1\n", b"2\n"])
        sink.write([b"3\n"])
    assert out.read_bytes() == b"1\n2\n3\n"
    assert sink.bytes_written == 6
    assert _reaped(sink.pid)


def test_failing_source_reports_status_and_stderr() -> None:
    spec = sh("printf 'a\\n'; echo first >&2; echo 'it broke' >&2; exit 3", "s3cr3t-arg")
    src = open_transport(spec, stream="in").source()
    got = b""
    with pytest.raises(TransportError) as info:
        while (items := src.read(timeout=5)) is not None:
            got += b"".join(items)
    assert got == b"a\n"  # data written before the failure is delivered first
    message = str(info.value)
    assert "stream 'in'" in message
    assert "'/bin/sh' exited with status 3" in message
    assert "first" in message and "it broke" in message
    assert "s3cr3t-arg" not in message  # arguments may hold resolved secrets
    with pytest.raises(TransportError, match="status 3"):
        src.read(timeout=0)  # the failure is sticky, never turned into a clean end
    src.close()


def test_stderr_shows_only_the_last_lines() -> None:
    src = open_transport(
        sh("for i in 1 2 3 4 5 6 7 8; do echo line$i >&2; done; exit 1"), stream="in"
    ).source()
    with pytest.raises(TransportError) as info:
        list(src)
    message = str(info.value)
    assert "line8" in message and "line4" in message and "line3" not in message
    src.close()


def test_killed_by_a_signal() -> None:
    src = open_transport(sh("kill -9 $$"), stream="in").source()
    with pytest.raises(TransportError, match="killed by signal SIGKILL"):
        list(src)
    src.close()


def test_missing_executable_names_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-script.sh")
    with pytest.raises(TransportError) as info:
        open_transport({"type": "exec", "run": missing, "args": ["secret-value"]}, stream="in").source()
    message = str(info.value)
    assert f"cannot run {missing!r}: no such program" in message
    assert "PATH" in message
    assert "secret-value" not in message


def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(TransportError, match="permission denied"):
        ExecTransport({"type": "exec", "run": str(script)}, stream="in").sink()


def test_program_found_on_path() -> None:
    with open_transport({"type": "exec", "run": "echo", "args": ["hi"]}).source() as src:
        assert b"".join(src) == b"hi\n"


def test_bad_fields() -> None:
    with pytest.raises(TransportError, match="no program given"):
        open_transport({"type": "exec"}, stream="s")
    with pytest.raises(TransportError, match="must be a list of strings"):
        open_transport({"type": "exec", "run": "cat", "args": "-n"}, stream="s")


def test_timeout_is_honoured_with_a_slow_producer() -> None:
    with open_transport(sh("sleep 0.6; echo late"), stream="in").source() as src:
        start = time.monotonic()
        assert src.read(timeout=0) == []
        assert src.read(timeout=0.2) == []
        assert time.monotonic() - start < 0.5
        got = b""
        while (items := src.read(timeout=0.2)) is not None:
            got += b"".join(items)
        assert got == b"late\n"
        assert time.monotonic() - start < 3


def test_timeout_while_waiting_for_the_exit() -> None:
    # stdout closes at once, the process exits later: read(timeout) must not wait for the exit.
    with open_transport(sh("exec >&-; sleep 0.5"), stream="in").source() as src:
        start = time.monotonic()
        assert src.read(timeout=0.1) == []
        assert time.monotonic() - start < 0.4
        assert src.read(timeout=5) is None


def test_close_stops_a_running_program_and_its_children() -> None:
    src = open_transport(sh("sleep 30 & sleep 30; wait"), stream="in").source()
    assert isinstance(src, ExecSource)
    assert src.read(timeout=0.1) == []
    start = time.monotonic()
    src.close()
    assert time.monotonic() - start < 3
    assert src.process.returncode is not None
    assert _reaped(src.pid)
    assert not src._reader.is_alive()


def test_no_zombies_after_reading_to_the_end() -> None:
    src = open_transport(sh("echo x"), stream="in").source()
    list(src)
    assert src.process.returncode == 0
    assert _reaped(src.pid)
    src.close()


def test_dropped_source_is_cleaned_up() -> None:
    src = open_transport({"type": "exec", "run": "sleep", "args": ["30"]}).source()
    process = src.process
    del src
    import gc

    gc.collect()
    assert process.returncode is not None


def test_read_after_close_fails() -> None:
    src = open_transport(sh("echo x"), stream="in").source()
    src.close()
    with pytest.raises(TransportError, match="after it was closed"):
        src.read()


def test_not_seekable() -> None:
    transport = open_transport(sh("echo x"), stream="in")
    with pytest.raises(TransportError, match="not seekable"):
        transport.source(skip_to=2)
    with transport.source() as src, pytest.raises(TransportError, match="cannot loop"):
        src.rewind()


def test_sink_failure_status_on_close() -> None:
    sink = open_transport(sh("cat >/dev/null; echo 'bad input' >&2; exit 2"), stream="out").sink()
    sink.write([b"1\n"])
    with pytest.raises(TransportError) as info:
        sink.close()
    message = str(info.value)
    assert "stream 'out'" in message and "exited with status 2" in message and "bad input" in message
    sink.close()  # reported once; a second close is a no-op
    assert _reaped(sink.pid)


def test_sink_that_stops_reading() -> None:
    sink = open_transport(sh("head -c 1 >/dev/null"), stream="out").sink()
    with pytest.raises(TransportError, match="stopped reading its input"):
        for _ in range(64):
            sink.write([b"x" * 65536])
            sink.flush()
    assert _reaped(sink.pid)
    sink.close()


def test_sink_close_timeout_stops_the_program() -> None:
    transport = ExecTransport(sh("sleep 30"), stream="out", close_timeout=0.3)
    sink = transport.sink()
    start = time.monotonic()
    with pytest.raises(TransportError, match=r"did not exit within 0\.3 s"):
        sink.close()
    assert time.monotonic() - start < 3
    assert _reaped(sink.pid)


def test_sink_abort_stops_the_program() -> None:
    sink = open_transport(sh("sleep 30"), stream="out").sink()
    sink.write([b"1\n"])
    start = time.monotonic()
    sink.abort()
    assert time.monotonic() - start < 3
    assert _reaped(sink.pid)


def test_sink_stdout_is_drained_and_kept(tmp_path: Path) -> None:
    # A program echoing more than a pipe holds must not block: its stdout is drained.
    sink = open_transport({"type": "exec", "run": "cat"}, stream="out").sink()
    assert isinstance(sink, ExecSink)
    for i in range(2000):
        sink.write([b"line %d %s\n" % (i, b"y" * 100)])
    sink.close()
    assert sink.output_tail[-1].startswith("line 1999 ")
