"""The ``S3`` transport: an object in Amazon S3 or any S3-compatible server (MinIO, Ceph, moto).

``{"type": "s3", "bucket": "b", "object_key": "in.jsons"}`` plus, optionally, ``region``
(``"us-east-1"``), ``access_key_id`` and ``secret_access_key`` (plain, or resolved from
``secret://NAME``; when both are absent the default AWS credential chain is used: environment,
``~/.aws``, instance or container role), ``endpoint_url`` (a project extension for servers other than
AWS; path-style addressing is then used, as those servers expect) and ``integrity_checks``.

* As input, the object is streamed with a single GET in chunks of ``chunk_size`` bytes (1 MiB), never
  loaded whole; the stream's envelope cuts the chunks into records. ``SkipTo`` asks for a byte range,
  ``Loop`` re-opens the object from its start. A connection dropped mid-object is resumed at the byte
  where it stopped (with ``If-Match`` on the ETag, so a changed object is an error, not a splice).
* As output, the bytes are sent as a multipart upload in parts of at least 5 MiB (the part size grows
  for very large outputs so the 10,000-part limit is never reached), a few at once from background
  threads while the caller goes on writing. The upload is started when the
  sink opens, so a missing bucket or a refused write fails before the model runs. :meth:`S3Sink.close`
  completes it, and only then does the object appear, replacing any previous one; :meth:`S3Sink.abort`
  cancels it, so no partial object is ever visible. An output smaller than one part is sent with a
  single PUT at close instead (and the started upload cancelled), which keeps its ETag the plain MD5.
* ``integrity_checks`` sends a Content-MD5 with every upload request, and on input compares the MD5
  of the bytes read with the object's ETag when the ETag is one (a whole object read from its start,
  uploaded in one piece, not encrypted with KMS or a customer key).

Errors say what failed, for which ``s3://bucket/key`` on which host, and how to fix it: a missing
bucket or key is "no such bucket/key", wrong credentials are "access denied". They never contain the
access key id or the secret key, and neither do the log lines of botocore (which logs request headers
at DEBUG level): while a transport holds explicit credentials, a filter on botocore's and urllib3's
loggers replaces them with ``*****``. Unknown descriptor fields (such as ``AssumeRoleWithSAML``) are
ignored with a DEBUG log.

Examples
--------
>>> t = S3Transport({"type": "s3", "bucket": "b", "object_key": "out/preds.jsons",
...                  "access_key_id": "AKIAEXAMPLEEXAMPLE01", "secret_access_key": "shh",
...                  "endpoint_url": "http://127.0.0.1:9000"}, stream="preds")
>>> t
S3Transport(stream='preds', url='s3://b/out/preds.jsons', endpoint='http://127.0.0.1:9000', region='us-east-1')
>>> t.url, t.host
('s3://b/out/preds.jsons', '127.0.0.1:9000')
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from ..errors import TransportError
from ..secrets import Secret, is_secret_key, redact_url, scrub
from .base import Sink, Source, Transport

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONCURRENCY",
    "MIN_PART_SIZE",
    "S3Sink",
    "S3Source",
    "S3Transport",
]

logger = logging.getLogger(__name__)

#: Bytes per :meth:`S3Source.read`: large enough that per-chunk overhead vanishes.
DEFAULT_CHUNK_SIZE = 1 << 20
#: S3's smallest part (all parts but the last of a multipart upload must be at least this big).
MIN_PART_SIZE = 5 << 20
#: Tries per request, as AWS's SDKs do: transient faults are retried, a wrong endpoint fails in seconds.
DEFAULT_ATTEMPTS = 3
#: Parts of an upload on their way at once: enough to hide the latency of one request.
DEFAULT_CONCURRENCY = 4
#: S3's largest part number.
_MAX_PARTS = 10_000
#: Times a read dropped mid-object is resumed before it is reported.
_RESUMES = 3

_KNOWN_FIELDS = frozenset(
    {
        "type",
        "bucket",
        "object_key",
        "region",
        "access_key_id",
        "secret_access_key",
        "integrity_checks",
        "endpoint_url",
    }
)
_NOT_FOUND = frozenset({"NoSuchBucket", "NoSuchKey", "404", "NotFound"})
_DENIED = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AccountProblem",
        "InvalidSecurity",
        "RequestTimeTooSkewed",
    }
)
_DENIED_REASONS = {
    "InvalidAccessKeyId": "the server does not know the access key id",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "ExpiredToken": "the credentials have expired",
    "InvalidToken": "the session token is not valid",
    "TokenRefreshRequired": "the credentials have expired",
    "RequestTimeTooSkewed": "this machine's clock differs too much from the server's",
}
_WRONG_REGION = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)

# Each transport gets a botocore session of its own, so the default credential chain is looked up
# afresh (a session caches what it found), but they share the session's data loader, which caches
# the service models: a client is then built in milliseconds. Sessions are not thread-safe, clients
# are; the lock guards the shared loader while a client is made.
_loader: Any = None
_client_lock = threading.Lock()


def _client(
    region: str, endpoint_url: str | None, key_id: str | None, secret: str | None, attempts: int
) -> Any:
    global _loader
    config = Config(
        retries={"max_attempts": attempts, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        # S3-compatible servers (MinIO, Ceph, moto) address buckets by path, not by DNS name.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    with _client_lock:
        session = botocore.session.get_session()
        if _loader is None:
            _loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _loader)
        client = session.create_client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=config,
        )
    _guard_logs()
    return client


# ------------------------------------------------------------------------------ log redaction


class _ScrubSecrets(logging.Filter):
    """Replaces the credentials of live S3 transports in third-party log records with ``*****``.

    botocore logs every request's headers at DEBUG level, and the Authorization header names the
    access key id. A logger's filters see only the records of that logger, so the filter is attached
    to each botocore and urllib3 logger (they all exist once botocore is imported).
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            with self.lock:
                values = list(self.values)
            text = record.getMessage()
            clean = scrub(text, values)
            if clean != text:
                record.msg, record.args = clean, None
        return True


_SCRUB = _ScrubSecrets()
_GUARDED_PREFIXES = ("botocore", "urllib3", "s3transfer", "boto3")


def _guard_logs() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(_GUARDED_PREFIXES):
            log = logging.getLogger(name)
            if _SCRUB not in log.filters:
                log.addFilter(_SCRUB)


def _hide(values: list[Secret]) -> None:
    with _SCRUB.lock:
        _SCRUB.values.update(v for v in values if v)


# ------------------------------------------------------------------------------ the transport


class S3Transport(Transport):
    """An S3 object (``{"type": "s3", "bucket": "b", "object_key": "k"}``).

    Parameters
    ----------
    spec
        The interpreted transport section: ``bucket`` and ``object_key`` (required), ``region``
        (``"us-east-1"``), ``access_key_id`` and ``secret_access_key`` (both or neither),
        ``endpoint_url``, ``integrity_checks`` (``False``). Other keys are ignored.
    stream
        The stream's name, for error messages.
    chunk_size
        Bytes per :meth:`S3Source.read`.
    part_size
        Smallest part of a multipart upload, at least 5 MiB (S3's minimum).
    concurrency
        Parts uploaded at once (each holds ``part_size`` bytes of memory while on its way).
    max_attempts
        Tries per request (throttling, server errors and dropped connections are retried).

    Examples
    --------
    >>> t = S3Transport({"type": "s3", "bucket": "data", "object_key": "iris.jsons"}, stream="iris")
    >>> t.bucket, t.key, t.region, t.integrity_checks
    ('data', 'iris.jsons', 'us-east-1', False)
    """

    type_name: ClassVar[str] = "s3"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        part_size: int = MIN_PART_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        # Secret's repr is '*****': the credentials stay hidden wherever this object's state is shown
        # (the interpreted form already wraps them; a spec written by hand may not).
        spec = {k: Secret(v) if isinstance(v, str) and is_secret_key(k) else v for k, v in spec.items()}
        super().__init__(spec, stream=stream)
        self.bucket = self._required(spec, "bucket", "Bucket", "the bucket's name")
        self.key = self._required(spec, "object_key", "ObjectKey", "the object's key, e.g. data/in.jsons")
        self.region = str(spec.get("region") or "us-east-1")
        endpoint = spec.get("endpoint_url")
        self.endpoint_url: str | None = str(endpoint) if endpoint else None
        self.integrity_checks = bool(spec.get("integrity_checks"))
        key_id, secret = spec.get("access_key_id") or None, spec.get("secret_access_key") or None
        if (key_id is None) != (secret is None):
            given, missing = (
                ("AccessKeyID", "SecretAccessKey") if key_id else ("SecretAccessKey", "AccessKeyID")
            )
            raise self.error(
                f"{given} is set but {missing} is not",
                hint="set both, e.g. as secret://NAME, or neither to use the default AWS credential chain",
            )
        self._key_id = Secret(str(key_id)) if key_id is not None else None
        self._secret = Secret(str(secret)) if secret is not None else None
        self._secrets = [v for v in (self._key_id, self._secret) if v is not None]
        if self._secrets:
            _hide(self._secrets)
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(
                f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum), not {part_size!r}"
            )
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")
        self.chunk_size = chunk_size
        self.part_size = part_size
        self.concurrency = concurrency
        self.max_attempts = max(1, int(max_attempts))
        ignored = sorted(k for k in spec if k not in _KNOWN_FIELDS)
        if ignored:
            # Names only: an unknown field may hold anything, a credential included.
            logger.debug("stream %r: S3 transport ignores the fields %s", stream, ", ".join(ignored))
        self._s3: Any = None

    def _required(self, spec: dict[str, Any], key: str, field: str, what: str) -> str:
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(f"no {field} given", hint=f"set Transport.{field} to {what}")
        return value

    @property
    def url(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def host(self) -> str:
        """The server's host (and port), for messages: the endpoint's, or AWS's regional S3 host."""
        if self.endpoint_url:
            return urlsplit(self.endpoint_url).netloc.rpartition("@")[2] or self.endpoint_url
        if self._s3 is not None:
            return urlsplit(self._s3.meta.endpoint_url).netloc
        return f"s3.{self.region}.amazonaws.com"

    def __repr__(self) -> str:
        endpoint = f", endpoint={redact_url(self.endpoint_url)!r}" if self.endpoint_url else ""
        return f"{type(self).__name__}(stream={self.stream!r}, url={self.url!r}{endpoint}, region={self.region!r})"

    @property
    def client(self) -> Any:
        """The botocore S3 client, made on first use and shared by this transport's sources and sinks."""
        if self._s3 is None:
            try:
                self._s3 = _client(
                    self.region, self.endpoint_url, self._key_id, self._secret, self.max_attempts
                )
            except (BotoCoreError, ValueError) as exc:
                # e.g. an invalid EndpointUrl or region; botocore names the value, never a credential.
                raise self.error(
                    f"cannot set up the S3 client for {self.url}: {self._clean(str(exc))}",
                    hint="check Transport.EndpointUrl and Transport.Region",
                ) from None
        return self._s3

    # -- errors ----------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        return scrub(text, self._secrets) if self._secrets else text

    def failure(self, exc: BaseException, action: str) -> TransportError:
        """The :class:`TransportError` for a botocore failure while ``action`` (``"reading"``, ...).

        The message is built from the error's code, not from the server's text, and is scrubbed of
        the credentials in any case.
        """
        where = f"{self.url} on {self.host}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            logger.debug(
                "stream %r: S3 %s %s failed: %s (HTTP %s, request id %s)",
                self.stream,
                action,
                self.url,
                code,
                status,
                exc.response.get("ResponseMetadata", {}).get("RequestId"),
            )
            if code == "NoSuchBucket" or (code in _NOT_FOUND and action == "opening the upload"):
                return self.error(
                    f"no such bucket/key {where}: the bucket {self.bucket!r} does not exist",
                    hint="check Transport.Bucket, and Transport.EndpointUrl and Region: is it the right server?",
                )
            if code in _NOT_FOUND:
                return self.error(
                    f"no such bucket/key {where}: no object {self.key!r} in the bucket {self.bucket!r}",
                    hint="check Transport.ObjectKey; keys are case-sensitive and include any folder prefix",
                )
            if code in _DENIED or status == 403:
                reason = _DENIED_REASONS.get(code, "these credentials are not allowed to do this")
                if self._secrets:
                    who = "Transport.AccessKeyID and SecretAccessKey"
                else:
                    who = "the default AWS credential chain (the descriptor has no AccessKeyID)"
                return self.error(
                    f"access denied {action} {where}: {reason}; the credentials came from {who}",
                    hint="check the key pair, kept in the descriptor as secret://NAME, and the bucket's "
                    "and the user's policies",
                )
            if code in _WRONG_REGION:
                return self.error(
                    f"{action} {where} failed: the bucket is not in the region {self.region!r} ({code})",
                    hint="set Transport.Region to the bucket's region",
                )
            if code == "InvalidBucketName":
                return self.error(
                    f"{action} {where} failed: {self.bucket!r} is not a valid bucket name",
                    hint="bucket names are 3 to 63 lowercase letters, digits, dots and hyphens",
                )
            if code in ("BadDigest", "InvalidDigest"):
                return self.error(
                    f"{action} {where} failed: the data was corrupted on the way (Content-MD5 mismatch)",
                    hint="retry; if it persists, check proxies between here and the server",
                )
            message = self._clean(str(error.get("Message") or "")).strip()
            detail = f"{code or 'error'} (HTTP {status})" + (f": {message}" if message else "")
            return self.error(f"{action} {where} failed: {detail}")
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return self.error(
                f"{action} {where}: no AWS credentials found",
                hint="set Transport.AccessKeyID and SecretAccessKey, e.g. as secret://NAME, or give the "
                "default AWS credential chain a key pair: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or ~/.aws/credentials",
            )
        if isinstance(exc, EndpointConnectionError):
            return self.error(
                f"{action} {where}: cannot connect to {self.host}",
                hint="check that the server is running and Transport.EndpointUrl/Region",
            )
        text = self._clean(str(exc)) or type(exc).__name__
        return self.error(f"{action} {where} failed: {text}")

    # -- opening ---------------------------------------------------------------------------------

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> S3Source:
        """Start reading the object, at byte ``skip_to`` when given (a range request).

        ``skip_to_record`` is refused: an object is a byte stream, and records are counted by the
        stream after framing.
        """
        if skip_to_record is not None:
            raise self.error(
                "an S3 object is a byte stream, it cannot skip to a record by itself",
                hint="use SkipTo (a byte offset), or skip records after framing",
            )
        if skip_to is not None and (isinstance(skip_to, bool) or not isinstance(skip_to, int) or skip_to < 0):
            raise self.error(
                f"SkipTo must be a byte offset (an integer >= 0), not {skip_to!r}", hint="e.g. SkipTo: 1024"
            )
        return S3Source(self, skip_to or 0)

    def sink(self) -> S3Sink:
        """Start a multipart upload to the object; it appears only when the sink is closed."""
        return S3Sink(self)


class S3Source(Source):
    """Streams an S3 object in chunks with one GET (re-opened to resume, rewind or loop).

    Attributes
    ----------
    bytes_read
        Bytes returned so far (counting again after a rewind).
    size
        The object's size in bytes, once known.
    """

    preserves_boundaries = False

    def __init__(self, transport: S3Transport, offset: int) -> None:
        self.transport = transport
        self._start = offset
        self._body: Any = None
        self._etag: str | None = None
        self._md5: Any = None
        self._eof = False
        self._closed = False
        self.bytes_read = 0
        self.size: int | None = None
        self._open(offset, resume=False)

    def _open(self, offset: int, *, resume: bool) -> None:
        t = self.transport
        kwargs: dict[str, Any] = {"Bucket": t.bucket, "Key": t.key}
        if offset:
            kwargs["Range"] = f"bytes={offset}-"
        if resume and self._etag:
            kwargs["IfMatch"] = self._etag
        self._pos = offset
        try:
            response = t.client.get_object(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "InvalidRange":
                # SkipTo at or past the end of the object: nothing left to read.
                self._body, self._eof = None, True
                logger.debug("stream %r: %s has no bytes from %d on", t.stream, t.url, offset)
                return
            if code in ("PreconditionFailed", "412"):
                raise t.error(
                    f"{t.url} on {t.host} changed while it was being read (byte {offset})",
                    hint="read it again once the writer has finished",
                ) from None
            raise t.failure(exc, "reading") from None
        except BotoCoreError as exc:
            raise t.failure(exc, "reading") from exc
        self._body = response["Body"]
        if not resume:
            self._etag = response.get("ETag")
            total = response.get("ContentRange", "").rpartition("/")[2]
            self.size = int(total) if total.isdigit() else int(response.get("ContentLength", 0)) + offset
            self._md5 = self._checksum(response, offset)
        logger.debug("stream %r: reading %s on %s from byte %d", t.stream, t.url, t.host, offset)

    def _checksum(self, response: dict[str, Any], offset: int) -> Any:
        """An MD5 to compare with the ETag at the end, when ``integrity_checks`` is on and it can be."""
        etag = (self._etag or "").strip('"')
        plain_md5 = len(etag) == 32 and "-" not in etag
        encrypted = response.get("ServerSideEncryption") == "aws:kms" or response.get("SSECustomerAlgorithm")
        if self.transport.integrity_checks and offset == 0 and plain_md5 and not encrypted:
            return hashlib.md5(usedforsecurity=False)
        return None

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """The next chunk, or ``None`` at the end of the object.

        A chunk comes from an open response and arrives within the client's read timeout, so
        ``timeout`` is not needed to bound the wait.
        """
        t = self.transport
        if self._closed:
            raise t.error(f"{t.url} was read after it was closed")
        if self._eof:
            return None
        for attempt in range(_RESUMES + 1):
            try:
                chunk = self._body.read(t.chunk_size)
                break
            except (BotoCoreError, OSError) as exc:
                # A dropped connection: continue where it stopped rather than fail a long read.
                if attempt == _RESUMES:
                    raise t.failure(exc, f"reading (at byte {self._pos})") from exc
                logger.warning(
                    "stream %r: reading %s was interrupted at byte %d (%s); resuming",
                    t.stream,
                    t.url,
                    self._pos,
                    type(exc).__name__,
                )
                self._drop_body()
                self._open(self._pos, resume=True)
                if self._eof:  # it dropped right at the end
                    self._finish()
                    return None
        if not chunk:
            self._finish()
            return None
        self._pos += len(chunk)
        self.bytes_read += len(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        return [chunk]

    def _finish(self) -> None:
        self._eof = True
        self._drop_body()
        if self._md5 is not None:
            digest, expected = self._md5.hexdigest(), (self._etag or "").strip('"')
            self._md5 = None
            if digest != expected:
                t = self.transport
                raise t.error(
                    f"{t.url} on {t.host}: the bytes read do not match the object's MD5 (ETag)",
                    hint="the data was corrupted on the way; read it again",
                )

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            try:
                body.close()
            except OSError as exc:  # closing a broken connection: nothing left to save
                logger.debug("stream %r: closing the S3 response: %s", self.transport.stream, exc)

    def rewind(self) -> None:
        """Read the object again from byte 0 (not from ``SkipTo``: a loop restarts the object)."""
        t = self.transport
        if self._closed:
            raise t.error(f"{t.url} was rewound after it was closed")
        self._drop_body()
        self._eof = False
        self._open(0, resume=False)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._drop_body()


class S3Sink(Sink):
    """Uploads a byte stream as one S3 object, all or nothing (see the module docstring).

    Parts go out from a few background threads (``concurrency``), so the caller goes on encoding
    while they travel; a part that fails is reported by the next :meth:`write` or by :meth:`close`.

    Attributes
    ----------
    bytes_written
        Bytes handed to :meth:`write` so far.
    parts
        Parts sent (or on their way) so far.
    """

    preserves_boundaries = False

    def __init__(self, transport: S3Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._done: list[dict[str, Any]] = []
        self._pending: list[Future[dict[str, Any]]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self.bytes_written = 0
        self.parts = 0
        t = transport
        try:
            response = t.client.create_multipart_upload(Bucket=t.bucket, Key=t.key)
        except (ClientError, BotoCoreError) as exc:
            raise t.failure(exc, "opening the upload") from None
        self._upload_id: str | None = response["UploadId"]
        logger.debug("stream %r: writing %s on %s", t.stream, t.url, t.host)

    def _threshold(self) -> int:
        # Double the part size every 1,000 parts: 5 GiB fits in 5 MiB parts, and the 10,000 parts
        # allowed reach S3's 5 TiB object limit.
        return self.transport.part_size << (self.parts // 1000)

    def _md5(self, data: bytes | bytearray) -> dict[str, str]:
        if not self.transport.integrity_checks:
            return {}
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        return {"ContentMD5": base64.b64encode(digest).decode("ascii")}

    def write(self, items: list[bytes]) -> None:
        t = self.transport
        if self._closed:
            raise t.error(f"{t.url} was written after it was closed")
        buffer = self._buffer
        for item in items:
            buffer += item
            self.bytes_written += len(item)
        if len(buffer) >= self._threshold():
            self._send_buffer()

    def _send_buffer(self) -> None:
        if self.parts >= _MAX_PARTS:
            self._fail(self.transport.error(f"the output is too large: S3 allows at most {_MAX_PARTS} parts"))
        # The whole buffer is one part (it may exceed the threshold by one write): no slicing copies.
        data, self._buffer = self._buffer, bytearray()
        self.parts += 1
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.transport.concurrency, thread_name_prefix="fastscore-s3-upload"
            )
        # Bounded: at most `concurrency` parts in memory on their way, the oldest awaited first.
        while len(self._pending) >= self.transport.concurrency:
            self._collect(self._pending.pop(0))
        self._pending.append(self._pool.submit(self._send_part, self.parts, data))

    def _send_part(self, number: int, data: bytearray) -> dict[str, Any]:
        t = self.transport
        try:
            response = t.client.upload_part(
                Bucket=t.bucket,
                Key=t.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                **self._md5(data),
            )
        except (ClientError, BotoCoreError) as exc:
            return {"PartNumber": number, "error": exc}
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _collect(self, future: Future[dict[str, Any]]) -> None:
        part = future.result()
        if "error" in part:
            self._fail(self.transport.failure(part["error"], f"writing (part {part['PartNumber']} of)"))
        self._done.append(part)

    def _fail(self, err: TransportError) -> NoReturn:
        """Cancel the upload and raise ``err``: nothing of this output will appear."""
        self._closed = True
        self._cancel()
        raise err

    def flush(self) -> None:
        """Nothing to push: S3 takes parts of at least 5 MiB, sent as soon as the buffer holds one."""

    def close(self) -> None:
        """Send the rest and complete the upload: the object appears now, whole."""
        if self._closed:
            return
        self._closed = True
        t = self.transport
        if not self.parts:
            # Smaller than one part: a single PUT (a plain-MD5 ETag), and the started upload is dropped.
            data, self._buffer = self._buffer, bytearray()
            try:
                t.client.put_object(Bucket=t.bucket, Key=t.key, Body=data, **self._md5(data))
            except (ClientError, BotoCoreError) as exc:
                self._fail(t.failure(exc, "writing"))
            self._cancel(quiet=True)
        else:
            if self._buffer:
                self._send_buffer()
            while self._pending:
                self._collect(self._pending.pop(0))
            try:
                t.client.complete_multipart_upload(
                    Bucket=t.bucket,
                    Key=t.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": sorted(self._done, key=lambda p: p["PartNumber"])},
                )
            except (ClientError, BotoCoreError) as exc:
                self._fail(t.failure(exc, "completing the upload of"))
            self._upload_id = None
            self._stop_pool()
        logger.debug(
            "stream %r: wrote %d bytes to %s on %s in %d part(s)",
            t.stream,
            self.bytes_written,
            t.url,
            t.host,
            max(1, self.parts),
        )

    def abort(self) -> None:
        """Cancel the upload: no object is written (an existing one is left as it was)."""
        if self._closed and self._upload_id is None:
            return
        self._closed = True
        self._buffer = bytearray()
        self._cancel()
        logger.info(
            "stream %r: output stopped early; the upload to %s was cancelled, no object was written "
            "(%d bytes discarded)",
            self.transport.stream,
            self.transport.url,
            self.bytes_written,
        )

    def _stop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # Parts not started are dropped; those on their way finish first, so the abort that
            # follows leaves no stray part behind (S3 keeps parts uploaded after an abort).
            pool.shutdown(wait=True, cancel_futures=True)
        self._pending = []

    def _cancel(self, *, quiet: bool = False) -> None:
        self._stop_pool()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        t = self.transport
        try:
            t.client.abort_multipart_upload(Bucket=t.bucket, Key=t.key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            # The object is not written either way; an unfinished upload only holds storage until a
            # lifecycle rule (AbortIncompleteMultipartUpload) or a later abort removes it.
            gone = (
                isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchUpload"
            )
            level = logging.DEBUG if quiet or gone else logging.WARNING
            logger.log(
                level,
                "stream %r: could not cancel the unfinished upload %s of %s: %s",
                t.stream,
                upload_id,
                t.url,
                t.failure(exc, "cancelling the upload of"),
            )
