"""S3 test servers: moto in server mode on 127.0.0.1, a free port each, torn down after the session.

Fixtures (session-scoped; each server starts on first use only):

``s3_server``
    A :class:`S3Server` running moto's ``ThreadedMotoServer`` in this process. It accepts any
    credentials (moto checks none unless told to), and :attr:`S3Server.access_key_id` /
    :attr:`S3Server.secret_access_key` are realistic-looking ones to put in descriptors.
``s3_iam_server``
    A :class:`S3Server` in a child process with moto's IAM authentication on: requests are signed
    and checked, so wrong credentials get "access denied" as on AWS. Its credentials are those of a
    user allowed every S3 action. It runs in a child process because moto's authentication switch is
    process-wide: turned on here it would apply to ``s3_server`` too.
``s3_bucket``
    A fresh, empty bucket on ``s3_server`` (function-scoped), by name.

Without moto (``pip install 'moto[s3]' flask flask-cors``) these fixtures call
:func:`fastscore_sdk.testing.unavailable`: the test is skipped, or fails under
``FASTSCORE_REQUIRE_SERVICES=1``. :func:`start_s3_server` starts a server outside pytest (benchmarks,
notebooks).

Examples
--------
A test of a stream reading S3::

    import fastscore_sdk as fs

    def test_reads_s3(s3_server, s3_bucket):
        s3_server.put(s3_bucket, "in.jsons", b'{"x": 1}\\n{"x": 2}\\n')
        s = fs.Stream("in", s3_server.descriptor(s3_bucket, "in.jsons"))
        assert list(s.read()) == [{"x": 1}, {"x": 2}]
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from . import unavailable

__all__ = ["S3Server", "s3_bucket", "s3_iam_server", "s3_server", "start_s3_server"]

logger = logging.getLogger(__name__)

_INSTALL = "pip install 'moto[s3]' flask flask-cors"

# Run in a child process: a threaded moto server on a free port, reported on stdout, stopped when
# the parent closes stdin (or dies, which closes it too).
_CHILD = r"""
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


class S3Server:
    """A running moto S3 server and helpers to arrange and inspect its buckets.

    Attributes
    ----------
    endpoint_url : str
        ``http://127.0.0.1:PORT``: the descriptor's ``EndpointUrl``.
    region : str
    access_key_id, secret_access_key : str
        Credentials the server accepts.
    iam : bool
        Whether the server checks credentials (IAM authentication mode).
    """

    region = "us-east-1"

    def __init__(
        self,
        endpoint_url: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        iam: bool = False,
        stop: Any = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.iam = iam
        self._stop = stop
        self._client: Any = None
        self._lock = threading.Lock()
        import boto3

        self._session = boto3.session.Session()

    def __repr__(self) -> str:
        return f"S3Server({self.endpoint_url!r}, iam={self.iam})"

    def client(self, access_key_id: str | None = None, secret_access_key: str | None = None) -> Any:
        """A boto3 S3 client for this server (the server's own credentials unless others are given)."""
        from botocore.config import Config

        if access_key_id is None and secret_access_key is None and self._client is not None:
            return self._client
        with self._lock:
            client = self._session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=access_key_id or self.access_key_id,
                aws_secret_access_key=secret_access_key or self.secret_access_key,
                config=Config(s3={"addressing_style": "path"}),
            )
        if access_key_id is None and secret_access_key is None:
            self._client = client
        return client

    def new_bucket(self, prefix: str = "fs-test") -> str:
        """Create a bucket with a unique name starting with ``prefix``; return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}".lower()
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        """Store ``data`` as the object ``key``."""
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or ``None`` when there is no such object."""
        client = self.client()
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys in a bucket (under ``prefix``), sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def uploads(self, bucket: str) -> list[str]:
        """Keys of the multipart uploads started and neither completed nor aborted."""
        response = self.client().list_multipart_uploads(Bucket=bucket)
        return sorted(u["Key"] for u in response.get("Uploads", []))

    def transport(self, bucket: str, key: str, **fields: Any) -> dict[str, Any]:
        """An interpreted S3 transport section for ``bucket``/``key`` on this server (with credentials)."""
        spec = {
            "type": "s3",
            "bucket": bucket,
            "object_key": key,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "endpoint_url": self.endpoint_url,
            "integrity_checks": False,
        }
        spec.update(fields)
        return spec

    def descriptor(self, bucket: str, key: str, *, encoding: str | None = "json", **transport: Any) -> dict:
        """A stream descriptor for ``bucket``/``key`` on this server; ``transport`` adds or overrides
        descriptor fields of the Transport section (``AccessKeyID="secret://AccessKeyID"``)."""
        section = {
            "Type": "S3",
            "Bucket": bucket,
            "ObjectKey": key,
            "Region": self.region,
            "AccessKeyID": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "EndpointUrl": self.endpoint_url,
        }
        section.update(transport)
        return {"Transport": section, "Envelope": "delimited", "Encoding": encoding}

    def stop(self) -> None:
        """Stop the server (safe to call twice)."""
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()


def _import_moto() -> Any:
    try:
        import boto3  # noqa: F401  (the helpers need it)
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ImportError(f"moto is not installed ({exc.name}): {_INSTALL}") from exc
    return ThreadedMotoServer


def _start_threaded() -> S3Server:
    server_cls = _import_moto()
    # Werkzeug logs every request at INFO, whatever moto's verbose flag says.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_cls(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(
        f"http://{host}:{port}",
        access_key_id="FSTESTACCESSKEY00001",
        secret_access_key="fs-test-secret-key-0123456789abcdef",
        stop=server.stop,
    )


def _start_process() -> tuple[str, Any]:
    _import_moto()
    # stderr goes to a file, not a pipe: a pipe nobody reads would block the server once full.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.strip().isdigit():
        proc.kill()
        proc.communicate(timeout=10)
        errors.seek(0)
        text = errors.read().decode(errors="replace").strip()[-500:]
        errors.close()
        raise RuntimeError(f"the moto server did not start: {text or 'no output'}")

    def stop() -> None:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        errors.close()

    return f"http://127.0.0.1:{int(line)}", stop


def _enable_iam(endpoint_url: str) -> tuple[str, str]:
    """Create a user allowed every S3 action, then turn authentication on; return its key pair."""
    import boto3

    iam = boto3.session.Session().client(
        "iam",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="FSTESTBOOTSTRAP00001",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="fastscore-test")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="fastscore-test", PolicyName="s3-all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="fastscore-test")["AccessKey"]
    # From the next request on, every request must be signed by a known key with a permitting policy.
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return key["AccessKeyId"], key["SecretAccessKey"]


def start_s3_server(*, process: bool = False, iam: bool = False) -> S3Server:
    """Start a moto S3 server on 127.0.0.1 and a free port; call :meth:`S3Server.stop` when done.

    Parameters
    ----------
    process
        Run it in a child process rather than a thread of this one (it then does not compete with
        this process for the interpreter: the choice for benchmarks).
    iam
        Check credentials (moto's IAM authentication mode); implies ``process``, because the switch
        is process-wide.

    Raises
    ------
    ImportError
        moto or boto3 is not installed (the message gives the pip command).
    RuntimeError
        The child process did not start.

    Examples
    --------
    >>> server = start_s3_server()
    >>> bucket = server.new_bucket()
    >>> server.put(bucket, "a.jsons", b'{"x": 1}\\n')
    >>> server.keys(bucket), server.get(bucket, "a.jsons")
    (['a.jsons'], b'{"x": 1}\\n')
    >>> server.stop()
    """
    if not (process or iam):
        return _start_threaded()
    endpoint_url, stop = _start_process()
    try:
        if iam:
            key_id, secret = _enable_iam(endpoint_url)
        else:
            key_id, secret = "FSTESTACCESSKEY00001", "fs-test-secret-key-0123456789abcdef"
    except BaseException:
        stop()
        raise
    return S3Server(endpoint_url, access_key_id=key_id, secret_access_key=secret, iam=iam, stop=stop)


def _fixture_server(**options: Any) -> Iterator[S3Server]:
    try:
        server = start_s3_server(**options)
    except (ImportError, RuntimeError, OSError) as exc:
        unavailable(f"no S3 test server: {exc}")
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server in this process (no credential checks); see :class:`S3Server`."""
    yield from _fixture_server()


@pytest.fixture(scope="session")
def s3_iam_server() -> Iterator[S3Server]:
    """A moto S3 server in a child process that checks credentials (IAM mode)."""
    yield from _fixture_server(iam=True)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket on ``s3_server``."""
    return s3_server.new_bucket()
