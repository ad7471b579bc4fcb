"""The ``soap-rpc`` encoding: registered so descriptors that name it verify; not supported yet."""

from __future__ import annotations

from typing import Any

from ...errors import NotSupportedError
from ..base import Encoding

__all__ = ["SoapRpcEncoding"]


class SoapRpcEncoding(Encoding):
    """Raises :class:`~fastscore_sdk.errors.NotSupportedError` when a stream tries to use it."""

    name = "soap-rpc"
    self_delimiting = True

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        stream = kw.get("stream")
        where = f"stream {stream!r}: " if stream else ""
        raise NotSupportedError(
            f"{where}the soap-rpc encoding is not supported yet",
            hint="the descriptor verifies, but records cannot be read or written; use json or avro-binary",
        )

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def encode_record(self, record: Any, index: int | None = None) -> bytes:  # pragma: no cover
        raise NotImplementedError
