"""The http transport against a real local HTTP server: conformance (byte stream and chunked mode),
Range requests, status and connection errors, credentials, TLS, and end-to-end streams and runs."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.network import HTTPFileServer, free_port
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.http import HTTPSource, HTTPTransport


def http(url: str, **fields: Any) -> dict[str, Any]:
    return {"type": "http", "url": url, **fields}


class _Served:
    """Conformance hooks shared by both modes: each payload gets its own path on the server."""

    chunked = False

    @pytest.fixture(autouse=True)
    def _server(self, http_file_server: HTTPFileServer) -> None:
        self.server = http_file_server
        self.paths = 0

    def _path(self) -> str:
        self.paths += 1
        return f"/payload-{self.paths}"

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        url = self.server.serve(self._path(), payload, chunked=self.chunked)
        return http(url, chunked=self.chunked)

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return http(self.server.url + "/never-written", chunked=self.chunked)

    def read_back(self, spec: dict[str, Any], sink: Any) -> None:
        return None

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        url = self.server.serve(self._path(), [b"late"], chunked=self.chunked, hold=30)
        return http(url, chunked=self.chunked)

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return http(self.server.url + "/no-such-path", chunked=self.chunked)


class TestHTTP(_Served, TransportConformance):
    supports_output = False
    seekable = True
    preserves_boundaries = False


class TestHTTPChunked(_Served, TransportConformance):
    chunked = True
    supports_output = False
    seekable = True
    preserves_boundaries = True


# ------------------------------------------------------------------------------------ byte stream


def test_skip_to_sends_a_range_request(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/d.txt", b"0123456789")
    with open_transport(http(url), stream="in").source(skip_to=4) as src:
        assert b"".join(src) == b"456789"
        assert src.status == 206
    request = http_file_server.requests[-1]
    assert request.headers["range"] == "bytes=4-"
    assert request.headers["accept-encoding"] == "identity"


def test_server_ignoring_range_is_skipped_into_locally(http_file_server: HTTPFileServer) -> None:
    data = b"".join(b"%05d\n" % i for i in range(50_000))
    url = http_file_server.serve("/d.txt", data, ranges=False)
    with open_transport(http(url), stream="in").source(skip_to=123_457) as src:
        assert b"".join(src) == data[123_457:]
        assert src.status == 200


def test_rewind_requests_again_from_the_start(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/d.txt", b"abcdef")
    with open_transport(http(url), stream="in").source(skip_to=3) as src:
        assert b"".join(src) == b"def"
        src.rewind()
        assert b"".join(src) == b"abcdef"
    assert [r.headers.get("range") for r in http_file_server.requests] == ["bytes=3-", None]


def test_skip_to_record_is_refused_on_a_byte_stream(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/d.txt", b"x")
    with pytest.raises(TransportError, match="SkipTo"):
        open_transport(http(url), stream="in").source(skip_to_record=2)


def test_read_returns_what_arrived_without_waiting_for_more(http_file_server: HTTPFileServer) -> None:
    lines = [b"%d\n" % i for i in range(5)]
    url = http_file_server.serve("/slow.txt", b"".join(lines), interval=0.3)
    with open_transport(http(url), stream="in").source() as src:
        start = time.monotonic()
        first = src.read(timeout=2.0)
        assert first and b"".join(first).startswith(b"0\n")
        assert time.monotonic() - start < 0.25  # the first line, not the whole slow body
        start = time.monotonic()
        assert src.read(timeout=0.05) == []
        assert time.monotonic() - start < 0.25


def test_a_body_slower_than_the_response_timeout_is_fine(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/late", b"1\n", hold=0.6)
    with HTTPTransport(http(url), stream="in", response_timeout=0.2).source() as src:
        assert b"".join(src) == b"1\n"  # the timeout is for the headers; a stream may be slow


def test_large_body_arrives_whole(http_file_server: HTTPFileServer) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB
    url = http_file_server.serve("/big.bin", data)
    with open_transport(http(url), stream="in").source() as src:
        got = b"".join(src)
    assert got == data
    assert src.bytes_read == len(data)


def test_truncated_body_is_an_error_after_the_data(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/cut.txt", b"1\n2\n3\n4\n", truncate=4)
    src = open_transport(http(url), stream="cut").source()
    got = b""
    with pytest.raises(TransportError) as info:
        while (items := src.read(timeout=5)) is not None:
            got += b"".join(items)
    assert got == b"1\n2\n"
    message = str(info.value)
    assert "stream 'cut'" in message and "broke after" in message and url in message
    with pytest.raises(TransportError):
        src.read(timeout=0)  # sticky: never turned into a clean end
    src.close()


def test_closing_while_the_server_still_sends_is_quick(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/slow.txt", b"".join(b"%d\n" % i for i in range(100)), interval=0.2)
    src = open_transport(http(url), stream="in").source()
    assert src.read(timeout=2.0)
    start = time.monotonic()
    src.close()
    assert time.monotonic() - start < 1.0


# ----------------------------------------------------------------------------------------- chunked


def test_chunked_one_record_per_chunk_whatever_it_holds(http_file_server: HTTPFileServer) -> None:
    chunks = [b'{"a":\n 1}', b"", b"\r\n", b"x" * 70_000]
    url = http_file_server.serve("/c", [c for c in chunks if c], chunked=True)
    with open_transport(http(url, chunked=True), stream="in").source() as src:
        assert src.preserves_boundaries
        assert list(src) == [c for c in chunks if c]
    assert http_file_server.requests[-1].headers["accept-encoding"] == "identity"


def test_chunked_skip_to_record_skips_chunks(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/c", [b"1", b"2", b"3"], chunked=True)
    with open_transport(http(url, chunked=True), stream="in").source(skip_to_record=2) as src:
        assert list(src) == [b"3"]
    with open_transport(http(url, chunked=True), stream="in").source(skip_to_record="earliest") as src:
        assert list(src) == [b"1", b"2", b"3"]


def test_chunked_refuses_skip_to(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/c", [b"1"], chunked=True)
    with pytest.raises(TransportError, match="SkipToRecord"):
        open_transport(http(url, chunked=True), stream="in").source(skip_to=1)


def test_chunked_needs_a_chunked_response(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/whole", b"1\n2\n")
    with pytest.raises(TransportError) as info:
        open_transport(http(url, chunked=True), stream="in").source()
    message = str(info.value)
    assert "Transfer-Encoding: chunked" in message and "Content-Length of 4 bytes" in message
    assert "Chunked false" in message


def test_chunked_records_arrive_as_they_are_sent(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/c", [b"1", b"2", b"3"], chunked=True, interval=0.3)
    with open_transport(http(url, chunked=True), stream="in").source() as src:
        start = time.monotonic()
        assert src.read(timeout=2.0) == [b"1"]
        assert time.monotonic() - start < 0.25


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(("status", "words"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_status_error_names_status_url_and_stream(
    http_file_server: HTTPFileServer, status: int, words: str
) -> None:
    url = http_file_server.serve("/broken", b"x", status=status)
    with pytest.raises(TransportError) as info:
        open_transport(http(url), stream="web").source()
    message = str(info.value)
    assert f"answered {status} {words}" in message
    assert url in message and "stream 'web'" in message and "http transport" in message


def test_connection_refused_names_host_and_port() -> None:
    port = free_port(socket.SOCK_STREAM)
    with pytest.raises(TransportError) as info:
        open_transport(http(f"http://127.0.0.1:{port}/x.jsons"), stream="web").source()
    message = str(info.value)
    assert f"cannot connect to 127.0.0.1:{port}" in message and "connection refused" in message
    assert "stream 'web'" in message and "listening" in message
    assert isinstance(info.value, OSError)


def test_unknown_host() -> None:
    with pytest.raises(TransportError, match=r"cannot resolve the host 'no-such-host\.invalid'"):
        open_transport(http("http://no-such-host.invalid/x"), stream="web").source()


@pytest.mark.parametrize("url", ["ftp://host/x", "host/x.jsons", "http:///x", "http://h:99999/x"])
def test_bad_urls_are_refused_when_built(url: str) -> None:
    with pytest.raises(TransportError, match="stream 'web'"):
        open_transport(http(url), stream="web")


def test_basic_auth_from_the_url_and_password_never_shown(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/private", b"1\n", auth=("alice", "pa55-w0rd-x"))
    port = http_file_server.port
    good = f"http://alice:pa55-w0rd-x@127.0.0.1:{port}/private"
    with open_transport(http(good), stream="in").source() as src:
        assert b"".join(src) == b"1\n"
    bad = f"http://alice:wr0ng-pa55@127.0.0.1:{port}/private"
    with pytest.raises(TransportError) as info:
        open_transport(http(bad), stream="in").source()
    message = str(info.value)
    assert "answered 401" in message and "alice:*****@" in message
    assert "wr0ng-pa55" not in message and "pa55-w0rd-x" not in message
    refused = f"http://alice:pa55-w0rd-x@127.0.0.1:{free_port(socket.SOCK_STREAM)}/x"
    with pytest.raises(TransportError) as info:
        open_transport(http(refused), stream="in").source()
    assert "pa55-w0rd-x" not in str(info.value)
    assert url.endswith("/private")


def test_url_from_a_secret_is_not_shown(
    http_file_server: HTTPFileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(tmp_path))
    (tmp_path / "DATA_URL").write_text(f"{http_file_server.url}/missing?token=t0k3n-abc\n")
    stream = fs.Stream(
        "web", {"Transport": {"Type": "HTTP", "Url": "secret://DATA_URL"}, "Encoding": "utf-8"}
    )
    with pytest.raises(TransportError) as info:
        stream.sample(1)
    message = str(info.value)
    assert "answered 404" in message and "URL from a secret" in message
    assert "t0k3n-abc" not in message and "/missing" not in message


def test_credential_query_values_are_hidden(http_file_server: HTTPFileServer) -> None:
    url = f"{http_file_server.url}/missing?X-Amz-Signature=abcdef123&part=2"
    with pytest.raises(TransportError) as info:
        open_transport(http(url), stream="in").source()
    message = str(info.value)
    assert "X-Amz-Signature=*****&part=2" in message and "abcdef123" not in message


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_verified_by_default(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with HTTPFileServer(ssl_context=ctx) as srv:
        url = srv.serve("/d.jsons", b'{"a":1}\n', chunked=True)
        with pytest.raises(TransportError) as info:
            open_transport(http(url), stream="tls").source()
        message = str(info.value)
        assert "TLS with 127.0.0.1" in message and "certificate" in message
        assert "REQUESTS_CA_BUNDLE" in message
        # Trusting the server's certificate (as $REQUESTS_CA_BUNDLE would) makes it work.
        with HTTPTransport(http(url), stream="tls", verify=str(cert)).source() as src:
            assert b"".join(src) == b'{"a":1}\n'


def test_ca_bundle_from_the_environment(
    self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with HTTPFileServer(ssl_context=ctx) as srv:
        url = srv.serve("/d.jsons", b'{"a":1}\n')
        assert fs.Stream(url).sample(3).records == [{"a": 1}]


def test_close_of_an_idle_tls_source_is_quick(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with HTTPFileServer(ssl_context=ctx) as srv:
        url = srv.serve("/idle", [b"x"], chunked=True, hold=30)
        src = HTTPTransport(http(url, chunked=True), stream="tls", verify=str(cert)).source()
        assert src.read(timeout=0.2) == []
        start = time.monotonic()
        src.close()
        assert time.monotonic() - start < 1.5


def test_an_unclosed_source_is_cleaned_up(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/idle", b"x", hold=30)
    src = open_transport(http(url), stream="in").source()
    assert isinstance(src, HTTPSource)
    reader = src._thread
    assert reader is not None and reader.is_alive()
    del src  # dropped without close(): the connection and the reader thread must not be left behind
    reader.join(3.0)
    assert not reader.is_alive()


# -------------------------------------------------------------------------------------- end to end

PRIMES = b"2\r\n3\r\n5\r\n7\r\n11\r\n13\r\n"


def prime_stream(url: str) -> fs.Stream:
    return fs.Stream(
        "primes",
        {
            "Transport": {"Type": "HTTP", "Url": url},
            "Envelope": {"Type": "delimited", "Separator": "\r\n"},
            "Encoding": "utf-8",
        },
    )


def test_sample_crlf_utf8_over_http(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/prime.test.stream", PRIMES, content_type="text/plain")
    sample = prime_stream(url).sample(10)
    assert sample.records == ["2", "3", "5", "7", "11", "13"]
    assert sample.rejected == []
    assert list(sample.to_pandas()["value"]) == ["2", "3", "5", "7", "11", "13"]


def test_sample_literal_url(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/iris.jsons", b'{"x": 1.5}\n{"x": 2.5}\n')
    assert fs.Stream(url).sample(5).records == [{"x": 1.5}, {"x": 2.5}]


def test_looping_http_stream_requests_again(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/p", PRIMES)
    desc = {**prime_stream(url).desc, "Loop": True}
    records = fs.Stream("primes", desc).sample(14).records
    assert records == ["2", "3", "5", "7", "11", "13"] * 2 + ["2", "3"]
    assert len(http_file_server.requests) == 3


def test_skip_to_through_a_stream(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/p", PRIMES)
    desc = {**prime_stream(url).desc, "SkipTo": 6}
    assert fs.Stream("primes", desc).sample(10).records == ["5", "7", "11", "13"]


def test_sample_chunked_one_record_per_chunk(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve(
        "/c", [b'{"a": 1}', b'{"a":\n  2}', b'{"$fastscore": "end"}', b"3"], chunked=True
    )
    desc = {"Transport": {"Type": "HTTP", "Url": url, "Chunked": True}, "Envelope": None, "Encoding": "json"}
    sample = fs.Stream("chunks", desc).sample(10)
    assert sample.records == [{"a": 1}, {"a": 2}]  # the end control record ends the stream


def test_sample_chunked_with_the_default_envelope(http_file_server: HTTPFileServer) -> None:
    url = http_file_server.serve("/c", [b'{"a": 1}', b'{"a": 2}'], chunked=True)
    desc = {"Transport": {"Type": "HTTP", "Url": url, "Chunked": True}, "Encoding": "json"}
    assert fs.Stream("chunks", desc).sample(10).records == [{"a": 1}, {"a": 2}]


def test_engine_runs_over_http(http_file_server: HTTPFileServer, tmp_path: Path) -> None:
    url = http_file_server.serve("/prime.test.stream", PRIMES)
    out = tmp_path / "doubled.jsons"
    model = fs.Model("double", "def action(x):\n    yield int(x) * 2\n")
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, prime_stream(url), f"file:{out}").wait(timeout=20)
        assert state == "FINISHED", eng.last_error
        assert int(eng.stats().loc[0, "records"]) == 6
    assert out.read_text().split() == ["4", "6", "10", "14", "22", "26"]


def test_engine_runs_over_chunked_http(http_file_server: HTTPFileServer, tmp_path: Path) -> None:
    url = http_file_server.serve("/c", [b'{"x": %d}' % i for i in range(5)], chunked=True)
    out = tmp_path / "out.jsons"
    model = fs.Model("getx", "def action(r):\n    yield r['x'] + 100\n")
    desc = {"Transport": {"Type": "HTTP", "Url": url, "Chunked": True}, "Envelope": None, "Encoding": "json"}
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, fs.Stream("chunks", desc), f"file:{out}").wait(timeout=20)
        assert state == "FINISHED", eng.last_error
    assert out.read_text().split() == ["100", "101", "102", "103", "104"]


def test_engine_reports_an_unreachable_url(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_STREAM)
    model = fs.Model("id", "def action(x):\n    yield x\n")
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, f"http://127.0.0.1:{port}/in.jsons", "discard:").wait(timeout=20)
        assert state == "ERROR"
        assert f"127.0.0.1:{port}" in str(eng.last_error)
