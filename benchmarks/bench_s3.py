"""S3 benchmark: an NDJSON object through the S3 transport and the engine, against bare client reads.

Run on demand (not a test): ``python benchmarks/bench_s3.py [--mb 50] [--repeat 5]``.

A moto S3 server runs in a child process (so it does not compete with the measured code for this
interpreter), holding one NDJSON object of about ``--mb`` MB made of the shared benchmark records.
In the same run, interleaved so machine noise hits all of them alike, each timing the best of
``--repeat``:

* bare botocore/boto3 ``get_object`` streamed in 1 MiB chunks (the floor for moving the bytes);
* s3fs ``open(...).read`` in 1 MiB chunks, when s3fs is installed (the other library DESIGN allows);
* ``S3Source`` (the transport alone, bytes only);
* the engine: S3 in -> identity model -> file out, beside the same run with a file in;
* writing: ``S3Sink`` (multipart, 5 MiB parts, 4 in flight) against boto3's ``upload_fileobj`` (multipart,
  5 MiB parts, 10 threads) and one bare ``put_object`` of the same bytes.

Figures are MB/s (10^6 bytes) and ratios to the baseline of their group.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import msgspec
from _data import best_times, make_records  # benchmarks/ is on sys.path when run as a script
from boto3.s3.transfer import TransferConfig

import fastscore_sdk as fs
from fastscore_sdk.testing.s3 import start_s3_server
from fastscore_sdk.transports import open_transport

IDENTITY = "def action(datum):\n    yield datum\n"
CHUNK = 1 << 20


def run_engine(src: fs.Stream, dst: fs.Stream) -> None:
    eng = fs.Engine(echo_console=False)
    try:
        state = eng.run(fs.Model("identity", IDENTITY), src, dst).wait()
        if state != "FINISHED":
            raise SystemExit(f"engine ended in {state}: {eng.last_error}")
    finally:
        eng.reset()


def report(title: str, times: dict[str, float], size: int, baseline: str) -> None:
    print(f"\n{title}")
    base = times[baseline]
    for name, t in times.items():
        print(f"  {name:<50} {t:7.3f} s  {size / t / 1e6:8.1f} MB/s  x{t / base:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="object size in MB")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    records = make_records(int(args.mb * 1e6 / 69))  # 68 bytes of JSON and a newline each
    data = msgspec.json.Encoder().encode_lines(records)
    size = len(data)

    server = start_s3_server(process=True)
    try:
        bucket = server.new_bucket("bench")
        server.put(bucket, "in.jsons", data)
        client = server.client()
        tmp = Path(tempfile.mkdtemp(prefix="bench-s3-"))
        local = tmp / "in.jsons"
        local.write_bytes(data)
        print(
            f"object: {size / 1e6:.1f} MB, {len(records)} records; server {server.endpoint_url} (child process)"
        )

        def bare_boto3() -> None:
            body = client.get_object(Bucket=bucket, Key="in.jsons")["Body"]
            got = sum(len(c) for c in body.iter_chunks(CHUNK))
            assert got == size

        def transport() -> None:
            t = open_transport(server.transport(bucket, "in.jsons"), stream="bench")
            with t.source() as src:
                got = sum(len(c) for c in src)
            assert got == size

        reads: dict[str, Callable[[], object]] = {"bare boto3 get_object, 1 MiB chunks": bare_boto3}
        try:
            import s3fs

            s3 = s3fs.S3FileSystem(
                key=server.access_key_id,
                secret=server.secret_access_key,
                client_kwargs={"endpoint_url": server.endpoint_url, "region_name": server.region},
            )

            def bare_s3fs() -> None:
                with s3.open(f"{bucket}/in.jsons", "rb", block_size=8 * CHUNK) as f:
                    got = 0
                    while chunk := f.read(CHUNK):
                        got += len(chunk)
                assert got == size

            reads["bare s3fs open().read, 1 MiB chunks"] = bare_s3fs
        except ImportError:
            pass
        reads["S3Source (the transport), bytes only"] = transport
        report("Reading the object (bytes only)", best_times(reads, args.repeat), size, next(iter(reads)))

        out = tmp / "out.jsons"

        def engine_s3() -> None:
            run_engine(
                fs.Stream("s3-in", server.descriptor(bucket, "in.jsons")), fs.Stream("out", f"file:{out}")
            )

        def engine_file() -> None:
            src = fs.Stream(
                "file-in",
                {"Transport": {"Type": "file", "Path": str(local)}, "Loop": False, "Encoding": "json"},
            )
            run_engine(src, fs.Stream("out", f"file:{out}"))

        engine = {
            "engine: file in -> identity -> file out": engine_file,
            "engine: S3 in -> identity -> file out": engine_s3,
        }
        report(
            "Engine, identity model (JSON decode + encode)",
            best_times(engine, args.repeat),
            size,
            next(iter(engine)),
        )
        assert out.read_bytes() == data

        def bare_put() -> None:
            client.put_object(Bucket=bucket, Key="put.jsons", Body=data)

        def sink() -> None:
            t = open_transport(server.transport(bucket, "sink.jsons"), stream="bench-out")
            with t.sink() as s:
                for i in range(0, size, 64 * 1024):
                    s.write([data[i : i + 64 * 1024]])

        def bare_upload() -> None:
            client.upload_fileobj(
                io.BytesIO(data), bucket, "upload.jsons", Config=TransferConfig(multipart_chunksize=5 << 20)
            )

        writes = {
            "bare boto3 upload_fileobj (5 MiB parts, threads)": bare_upload,
            "bare boto3 put_object (one request)": bare_put,
            "S3Sink, 64 KiB writes, 5 MiB parts": sink,
        }
        report("Writing the object", best_times(writes, args.repeat), size, next(iter(writes)))
        assert server.get(bucket, "sink.jsons") == data
    finally:
        server.stop()


if __name__ == "__main__":
    main()
