"""The S3 transport against a real S3 server (moto in server mode on 127.0.0.1).

The conformance suite, the seed's "Reading and Writing with S3" flow with ``secret://`` credentials,
streaming of large objects, ranges, multipart uploads that are all or nothing, and error messages
(missing bucket or key, access denied on a server that checks credentials) that never show a secret.
"""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.s3 import S3Server
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink, Transport
from fastscore_sdk.transports.s3 import DEFAULT_CHUNK_SIZE, MIN_PART_SIZE, S3Transport

pytestmark = pytest.mark.services

MiB = 1 << 20


class TestS3(TransportConformance):
    seekable = True
    abort_discards = True

    @pytest.fixture(autouse=True)
    def _server(self, s3_server: S3Server, s3_bucket: str) -> None:
        self.server = s3_server
        self.bucket = s3_bucket
        self.count = 0

    def _key(self, name: str) -> str:
        self.count += 1
        return f"{name}-{self.count}.bin"

    def make_transport(self, spec: dict[str, Any]) -> Transport:
        # A small chunk size makes the suite cross many chunk boundaries.
        return open_transport(spec, stream=self.stream_name, chunk_size=4096)

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        key = self._key("in")
        self.server.put(self.bucket, key, payload)
        return self.server.transport(self.bucket, key)

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return self.server.transport(self.bucket, self._key("out"))

    def read_back(self, spec: dict[str, Any], sink: Sink) -> bytes | None:
        return self.server.get(spec["bucket"], spec["object_key"])

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return self.server.transport(self.bucket, "no/such/key.jsons")

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return self.server.transport("no-such-bucket-here", "out.jsons")


# ---------------------------------------------------------------------------------------- helpers


def iris_inputs(n: int = 25) -> bytes:
    """``n`` iris-like JSON lines, as ``xgboost_iris_inputs.jsons`` in the seed."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "sepal_length": round(4.5 + (i % 7) * 0.5, 1),
                "sepal_width": round(2.5 + (i % 3) * 0.4, 1),
                "petal_length": round(1.0 + (i % 5) * 1.2, 1),
                "petal_width": round(0.2 + (i % 4) * 0.6, 1),
            }
        )
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


IRIS_MODEL = """\
# fastscore.recordsets.0: false
import math

def action(x):
    # Three scores from petal size, turned into probabilities as a classifier would.
    size = x["petal_length"] * x["petal_width"]
    scores = [math.exp(-abs(size - centre)) for centre in (0.3, 5.0, 12.0)]
    total = sum(scores)
    yield {"A": scores[0] / total, "B": scores[1] / total, "C": scores[2] / total}
"""


def lines_of(data: bytes | None) -> list[Any]:
    assert data is not None, "no object"
    return [json.loads(line) for line in data.splitlines() if line]


def read_records(stream: fs.Stream) -> list[Any]:
    return list(stream.read())


def capture_requests(transport: S3Transport) -> list[Any]:
    """The botocore requests the transport's client sends from now on."""
    sent: list[Any] = []
    transport.client.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request))
    return sent


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a credential shows in: {text[:300]}"


# ------------------------------------------------------------------------------------ the seed flow


def test_seed_flow_reads_inputs_and_writes_predictions_with_secrets(
    s3_iam_server: S3Server, tmp_path: Path, monkeypatch, caplog, capsys
) -> None:
    """Seed §"Reading and Writing with S3": secret:// credentials, a model in between, one line out per line in."""
    server = s3_iam_server
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    # As `echo <value> | docker secret create NAME -` stores them: with a trailing newline.
    (secrets_dir / "AccessKeyID").write_text(server.access_key_id + "\n")
    (secrets_dir / "SecretAccessKey").write_text(server.secret_access_key + "\n")
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(secrets_dir))

    bucket = server.new_bucket("iris")
    server.put(bucket, "xgboost_iris_inputs.jsons", iris_inputs(25))
    caplog.set_level(logging.DEBUG)  # from here on: the arranging above used the test's own client
    refs = {"AccessKeyID": "secret://AccessKeyID", "SecretAccessKey": "secret://SecretAccessKey"}
    s3_in = fs.Stream("s3-input-secret", server.descriptor(bucket, "xgboost_iris_inputs.jsons", **refs))
    s3_out = fs.Stream("s3-output-secret", server.descriptor(bucket, "iris_predictions.jsons", **refs))

    shown = [repr(s3_in), str(s3_in.verify()), repr(s3_in.verify()), json.dumps(s3_out.desc)]
    model = fs.Model("xgboost_iris", IRIS_MODEL)
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(model, s3_in, s3_out)
        assert eng.wait(30) == "FINISHED", eng.last_error
        shown.append(json.dumps(eng.inspect(), default=str))
    finally:
        eng.reset()

    predictions = lines_of(server.get(bucket, "iris_predictions.jsons"))
    assert len(predictions) == 25
    for p in predictions:
        assert set(p) == {"A", "B", "C"} and abs(sum(p.values()) - 1.0) < 1e-9
    assert server.uploads(bucket) == []

    out, err = capsys.readouterr()
    shown += [out, err] + [r.getMessage() for r in caplog.records]
    assert_hidden("\n".join(shown), server.access_key_id, server.secret_access_key)


def test_verify_is_static_and_opens_no_connection() -> None:
    # Port 1 on loopback: nothing listens there, and verify() must not notice.
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k.jsons",
            "EndpointUrl": "http://127.0.0.1:1",
            "AccessKeyID": "AKIAFASTSCOREEXAMPLE",
            "SecretAccessKey": "do-not-print-this-secret",
        },
        "Encoding": "json",
    }
    start = time.monotonic()
    interpreted = fs.Stream("s3-verify", desc).verify()
    assert time.monotonic() - start < 1.0
    transport = interpreted["transport"]
    assert transport["endpoint_url"] == "http://127.0.0.1:1"
    assert transport["access_key_id"] == "*****" and transport["secret_access_key"] == "*****"
    assert_hidden(repr(interpreted), "AKIAFASTSCOREEXAMPLE", "do-not-print-this-secret")


def test_unreachable_endpoint_fails_when_opened_with_the_host() -> None:
    spec = {
        "type": "s3",
        "bucket": "b",
        "object_key": "k",
        "endpoint_url": "http://127.0.0.1:1",
        "access_key_id": "AKIAFASTSCOREEXAMPLE",
        "secret_access_key": "do-not-print-this-secret",
    }
    # One attempt: the retries (with their back-off) are botocore's business, not this test's.
    transport = open_transport(spec, stream="s3-down", max_attempts=1)
    with pytest.raises(TransportError, match=r"s3-down.*cannot connect to 127\.0\.0\.1:1") as info:
        transport.source()
    assert_hidden(str(info.value), "AKIAFASTSCOREEXAMPLE", "do-not-print-this-secret")
    with pytest.raises(TransportError, match=r"opening the upload .*cannot connect to 127\.0\.0\.1:1"):
        transport.sink()


# ------------------------------------------------------------------------------------------ reading


def test_large_object_streams_in_chunks_without_loading_it_whole(s3_iam_server: S3Server) -> None:
    # The server runs in another process here, so the memory traced is the reader's alone.
    s3_server, s3_bucket = s3_iam_server, s3_iam_server.new_bucket("big")
    data = b"".join(b'{"i": %08d, "pad": "%s"}\n' % (i, b"x" * 180) for i in range(105_000))  # ~20 MB
    s3_server.put(s3_bucket, "big.jsons", data)
    transport = open_transport(s3_server.transport(s3_bucket, "big.jsons"), stream="big")
    sent = capture_requests(transport)
    tracemalloc.start()
    try:
        total, sizes = 0, []
        with transport.source() as src:
            while (items := src.read()) is not None:
                for chunk in items:
                    sizes.append(len(chunk))
                    total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(data)
    assert max(sizes) == DEFAULT_CHUNK_SIZE and len(sizes) == -(-len(data) // DEFAULT_CHUNK_SIZE)
    assert peak < 8 * MiB, f"reading a {len(data) >> 20} MiB object peaked at {peak >> 20} MiB"
    gets = [r for r in sent if r.method == "GET"]
    assert len(gets) == 1, "one streaming GET, not a request per chunk"


def test_line_streaming_of_a_large_object_is_as_fast_as_a_file(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    data = b"".join(b'{"i": %d, "pad": "%s"}\n' % (i, b"y" * 200) for i in range(100_000))  # ~21 MB
    s3_server.put(s3_bucket, "lines.jsons", data)
    path = tmp_path / "lines.jsons"
    path.write_bytes(data)
    from_s3 = fs.Stream("s3-lines", s3_server.descriptor(s3_bucket, "lines.jsons"))
    from_file = fs.Stream(
        "file-lines", {"Transport": {"Type": "file", "Path": str(path)}, "Loop": False, "Encoding": "json"}
    )
    timings = {}
    for name, stream in (("file", from_file), ("s3", from_s3)):
        start = time.perf_counter()
        count = sum(1 for _ in stream.read())
        timings[name] = time.perf_counter() - start
        assert count == 100_000
    # The slow failure mode (a request, or a block read, per line) is ~100x; allow noise, not that.
    assert timings["s3"] < 3 * timings["file"] + 1.0, timings


def test_skip_to_asks_for_a_range(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "r.jsons", b"1\n22\n333\n")
    transport = open_transport(s3_server.transport(s3_bucket, "r.jsons"), stream="range")
    sent = capture_requests(transport)
    with transport.source(skip_to=2) as src:
        assert b"".join(src) == b"22\n333\n"
        assert src.size == 9
    assert sent[-1].headers["Range"] == b"bytes=2-"


def test_skip_to_in_a_descriptor(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "skip.jsons", b"1\n22\n333\n")
    desc = s3_server.descriptor(s3_bucket, "skip.jsons")
    desc["SkipTo"] = 2
    assert read_records(fs.Stream("skip", desc)) == [22, 333]


def test_loop_reads_the_object_again(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "loop.jsons", b"1\n2\n3\n")
    desc = s3_server.descriptor(s3_bucket, "loop.jsons")
    desc["Loop"] = True
    assert list(fs.Stream("loop", desc).sample(7)) == [1, 2, 3, 1, 2, 3, 1]


def test_rewind_after_skip_to_starts_at_zero(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "rw.bin", b"abcdef")
    with open_transport(s3_server.transport(s3_bucket, "rw.bin"), stream="rw").source(skip_to=3) as src:
        assert b"".join(src) == b"def"
        src.rewind()
        assert b"".join(src) == b"abcdef"


def test_integrity_checks_on_read(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "md5.bin", b"checked\n" * 1000)
    spec = s3_server.transport(s3_bucket, "md5.bin", integrity_checks=True)
    with open_transport(spec, stream="md5", chunk_size=1000).source() as src:
        assert b"".join(src) == b"checked\n" * 1000


def test_read_resumes_after_a_dropped_connection(s3_server: S3Server, s3_bucket: str, caplog) -> None:
    data = bytes(range(256)) * 64
    s3_server.put(s3_bucket, "drop.bin", data)
    transport = open_transport(s3_server.transport(s3_bucket, "drop.bin"), stream="drop", chunk_size=1000)
    sent = capture_requests(transport)
    with transport.source() as src:
        first = src.read()[0]
        src._body.close()  # the connection goes away mid-object
        rest = b"".join(src)
    assert first + rest == data
    assert sent[-1].headers["Range"] == b"bytes=1000-"
    assert "resuming" in caplog.text


# ------------------------------------------------------------------------------------------ writing


def test_large_output_is_a_multipart_upload_of_5_mib_parts(s3_server: S3Server, s3_bucket: str) -> None:
    transport = open_transport(s3_server.transport(s3_bucket, "big.out"), stream="parts")
    sent = capture_requests(transport)
    piece = b"z" * (64 * 1024)
    with transport.sink() as sink:
        for _ in range(12 * 16):  # 12 MiB in 64 KiB writes
            sink.write([piece])
        assert sink.parts == 2  # the last part goes at close
        assert s3_server.keys(s3_bucket) == [], "nothing visible before close"
    parts = [r for r in sent if r.method == "PUT" and b"partNumber=" in r.url.encode()]
    sizes = [int(r.headers["Content-Length"]) for r in parts]
    assert len(sizes) == 3 and all(s >= MIN_PART_SIZE for s in sizes[:-1]) and sum(sizes) == 12 * MiB
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="big.out")
    assert head["ContentLength"] == 12 * MiB and head["ETag"].endswith('-3"')
    assert s3_server.uploads(s3_bucket) == []


def test_small_output_is_one_put(s3_server: S3Server, s3_bucket: str) -> None:
    with open_transport(s3_server.transport(s3_bucket, "small.out"), stream="small").sink() as sink:
        sink.write([b"1\n", b"2\n"])
    assert s3_server.get(s3_bucket, "small.out") == b"1\n2\n"
    etag = s3_server.client().head_object(Bucket=s3_bucket, Key="small.out")["ETag"]
    assert "-" not in etag  # a plain MD5: not a one-part multipart upload
    assert s3_server.uploads(s3_bucket) == []


def test_integrity_checks_send_content_md5(s3_server: S3Server, s3_bucket: str) -> None:
    import base64
    import hashlib

    spec = s3_server.transport(s3_bucket, "md5.out", integrity_checks=True)
    for size in (100, 6 * MiB):
        transport = open_transport(spec, stream="md5")
        sent = capture_requests(transport)
        with transport.sink() as sink:
            sink.write([b"q" * size])
        uploads = [r for r in sent if r.method == "PUT"]
        # One request carries the whole output: a PUT below 5 MiB, one part above.
        assert len(uploads) == 1
        expected = base64.b64encode(hashlib.md5(b"q" * size).digest())
        assert uploads[0].headers["Content-MD5"] == expected
        assert s3_server.get(s3_bucket, "md5.out") == b"q" * size


def test_abort_leaves_no_object_and_no_upload(s3_server: S3Server, s3_bucket: str) -> None:
    sink = open_transport(s3_server.transport(s3_bucket, "aborted.out"), stream="abort").sink()
    sink.write([b"a" * (6 * MiB)])  # one part already uploaded
    assert sink.parts == 1
    sink.abort()
    assert s3_server.keys(s3_bucket) == []
    assert s3_server.uploads(s3_bucket) == []


def test_a_failed_completion_is_reported_and_the_upload_cancelled(
    s3_server: S3Server, s3_bucket: str
) -> None:
    transport = open_transport(s3_server.transport(s3_bucket, "small-parts.out"), stream="cut")
    transport.part_size = 1024  # below S3's minimum: the server refuses to complete the upload
    sink = transport.sink()
    sink.write([b"a" * 3000])
    sink.write([b"b" * 3000])
    with pytest.raises(TransportError) as info:
        sink.close()
    message = str(info.value)
    assert "cut" in message and "EntityTooSmall" in message
    assert f"completing the upload of s3://{s3_bucket}/small-parts.out" in message
    sink.abort()  # already cancelled: nothing left to do
    assert s3_server.keys(s3_bucket) == [] and s3_server.uploads(s3_bucket) == []


def test_abort_keeps_the_previous_object(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "keep.out", b"old\n")
    sink = open_transport(s3_server.transport(s3_bucket, "keep.out"), stream="keep").sink()
    sink.write([b"new\n" * 10])
    sink.abort()
    assert s3_server.get(s3_bucket, "keep.out") == b"old\n"


def test_writer_failing_midway_leaves_no_object(s3_server: S3Server, s3_bucket: str) -> None:
    stream = fs.Stream("w", s3_server.descriptor(s3_bucket, "half.jsons"))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), stream.open_writer() as writer:
        for i in range(300_000):  # more than one part's worth
            writer.write({"i": i, "pad": "p" * 20})
        raise Boom
    assert s3_server.keys(s3_bucket) == []
    assert s3_server.uploads(s3_bucket) == []


def test_model_failing_midway_leaves_no_object(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "in.jsons", b"".join(b"%d\n" % i for i in range(5000)))
    model = fs.Model("fails", "def action(x):\n    if x == 3000:\n        raise ValueError(x)\n    yield x\n")
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(
            model,
            fs.Stream("in", s3_server.descriptor(s3_bucket, "in.jsons")),
            fs.Stream("out", s3_server.descriptor(s3_bucket, "out.jsons")),
        )
        assert eng.wait(30) == "ERROR"
    finally:
        eng.reset()
    assert s3_server.keys(s3_bucket) == ["in.jsons"]


def test_engine_run_from_s3_to_s3(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.put(s3_bucket, "in.jsons", b"".join(b"%d\n" % i for i in range(20_000)))
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(
            fs.Model("plus1", "def action(x):\n    yield x + 1\n"),
            fs.Stream("in", s3_server.descriptor(s3_bucket, "in.jsons")),
            fs.Stream("out", s3_server.descriptor(s3_bucket, "out.jsons")),
        )
        assert eng.wait(30) == "FINISHED", eng.last_error
    finally:
        eng.reset()
    assert lines_of(s3_server.get(s3_bucket, "out.jsons")) == list(range(1, 20_001))


# ------------------------------------------------------------------------------------------- errors


def test_missing_bucket(s3_server: S3Server) -> None:
    stream = fs.Stream("s3-in", s3_server.descriptor("no-such-bucket", "in.jsons"))
    with pytest.raises(TransportError) as info:
        stream.sample(3)
    message = str(info.value)
    host = s3_server.endpoint_url.split("//")[1]
    assert "no such bucket/key s3://no-such-bucket/in.jsons" in message
    assert host in message and "s3-in" in message and "Bucket" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_key(s3_server: S3Server, s3_bucket: str) -> None:
    with pytest.raises(
        TransportError, match=rf"no such bucket/key s3://{s3_bucket}/absent\.jsons .*ObjectKey"
    ):
        fs.Stream("s3-in", s3_server.descriptor(s3_bucket, "absent.jsons")).sample(3)


def test_missing_bucket_on_output_fails_when_the_sink_opens(s3_server: S3Server) -> None:
    stream = fs.Stream("s3-out", s3_server.descriptor("no-such-bucket", "out.jsons"))
    with pytest.raises(TransportError, match=r"no such bucket/key s3://no-such-bucket/out\.jsons"):
        stream.open_writer()


def test_one_credential_without_the_other() -> None:
    with pytest.raises(TransportError, match="AccessKeyID is set but SecretAccessKey is not"):
        S3Transport({"type": "s3", "bucket": "b", "object_key": "k", "access_key_id": "AKIAFASTSCOREEXAMPLE"})
    with pytest.raises(TransportError, match="SecretAccessKey is set but AccessKeyID is not"):
        S3Transport({"type": "s3", "bucket": "b", "object_key": "k", "secret_access_key": "hush-hush"})


def test_required_fields() -> None:
    with pytest.raises(TransportError, match="no Bucket given"):
        S3Transport({"type": "s3", "object_key": "k"}, stream="s")
    with pytest.raises(TransportError, match="no ObjectKey given"):
        S3Transport({"type": "s3", "bucket": "b"}, stream="s")


def test_invalid_endpoint_url() -> None:
    spec = {"type": "s3", "bucket": "b", "object_key": "k", "endpoint_url": "127.0.0.1:9000"}
    with pytest.raises(TransportError, match=r"Invalid endpoint: 127\.0\.0\.1:9000.*Transport\.EndpointUrl"):
        open_transport(spec, stream="s3-typo").source()


def test_unknown_fields_are_ignored_with_a_debug_log(s3_server: S3Server, s3_bucket: str, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="fastscore_sdk.transports.s3")
    s3_server.put(s3_bucket, "sts.jsons", b"1\n2\n")
    # GS s3-sts-input.json carries an undocumented AssumeRoleWithSAML.
    desc = s3_server.descriptor(s3_bucket, "sts.jsons", AssumeRoleWithSAML="role")
    assert read_records(fs.Stream("sts", desc)) == [1, 2]
    assert "ignores the fields assume_role_with_saml" in caplog.text
    assert "role'" not in caplog.text  # the name is logged, not the value


def test_repr_and_state_hide_credentials() -> None:
    t = S3Transport(
        {
            "type": "s3",
            "bucket": "b",
            "object_key": "k",
            "access_key_id": "AKIAFASTSCOREEXAMPLE",
            "secret_access_key": "never-show-me-0123",
            "endpoint_url": "http://127.0.0.1:9000",
        },
        stream="s",
    )
    assert_hidden(repr(t) + repr(vars(t)), "AKIAFASTSCOREEXAMPLE", "never-show-me-0123")


# ----------------------------------------------------------------------- credentials (IAM mode server)


def test_wrong_secret_is_access_denied_without_the_credentials(s3_iam_server: S3Server, caplog) -> None:
    server = s3_iam_server
    bucket = server.new_bucket("denied")
    server.put(bucket, "in.jsons", b"1\n")
    caplog.set_level(logging.DEBUG)
    bad_secret = "Wr0ng/Secret+Key0123456789abcdefghijklmn"
    desc_in = server.descriptor(bucket, "in.jsons", SecretAccessKey=bad_secret)
    desc_out = server.descriptor(bucket, "out.jsons", SecretAccessKey=bad_secret)
    errors = []
    with pytest.raises(TransportError) as info:
        fs.Stream("s3-in", desc_in).sample(1)
    errors.append(info.value)
    with pytest.raises(TransportError) as info:
        fs.Stream("s3-out", desc_out).open_writer()
    errors.append(info.value)
    for err in errors:
        message = str(err)
        assert "access denied" in message
        assert "secret access key does not match" in message
        assert "AccessKeyID" in message and "SecretAccessKey" in message  # how to fix it
        assert err.__cause__ is None and err.__suppress_context__, "botocore's traceback is not shown"
        assert_hidden(message + repr(err), server.access_key_id, bad_secret, server.secret_access_key)
    assert_hidden("\n".join(r.getMessage() for r in caplog.records), server.access_key_id, bad_secret)
    assert server.keys(bucket) == ["in.jsons"]


def test_unknown_key_is_access_denied(s3_iam_server: S3Server) -> None:
    server = s3_iam_server
    bucket = server.new_bucket("unknown")
    server.put(bucket, "in.jsons", b"1\n")
    key_id = "AKIAUNKNOWNKEY000001"
    desc = server.descriptor(bucket, "in.jsons", AccessKeyID=key_id, SecretAccessKey="whatever-secret")
    with pytest.raises(TransportError, match="access denied reading") as info:
        fs.Stream("s3-in", desc).sample(1)
    assert "does not know the access key id" in str(info.value)
    assert_hidden(str(info.value), key_id, "whatever-secret")


def test_default_credential_chain(s3_iam_server: S3Server, monkeypatch, tmp_path: Path) -> None:
    server = s3_iam_server
    bucket = server.new_bucket("chain")
    server.put(bucket, "in.jsons", b"7\n8\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    desc = server.descriptor(bucket, "in.jsons")
    del desc["Transport"]["AccessKeyID"], desc["Transport"]["SecretAccessKey"]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_access_key)
    assert read_records(fs.Stream("chain", desc)) == [7, 8]

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-one-at-all")
    with pytest.raises(TransportError, match=r"access denied.*default AWS credential chain"):
        read_records(fs.Stream("chain", desc))

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(TransportError, match="no AWS credentials found"):
        read_records(fs.Stream("chain", desc))


def test_logs_never_show_credentials(s3_iam_server: S3Server, caplog) -> None:
    server = s3_iam_server
    bucket = server.new_bucket("logs")
    server.put(bucket, "in.jsons", b"1\n2\n3\n")
    caplog.set_level(logging.DEBUG)
    spec_in = server.transport(bucket, "in.jsons")
    spec_out = server.transport(bucket, "out.jsons")
    with open_transport(spec_in, stream="in").source() as src:
        data = b"".join(src)
    with open_transport(spec_out, stream="out").sink() as sink:
        sink.write([data])
    assert server.get(bucket, "out.jsons") == data
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Sending http request" in text  # botocore did log its requests at DEBUG
    assert_hidden(text, server.access_key_id, server.secret_access_key)
