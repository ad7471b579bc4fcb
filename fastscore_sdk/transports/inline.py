"""The ``inline`` transport (old name ``debug``): data written in the descriptor itself. Input only.

Two shapes, with the usual two fields (use one of them):

* a string, ``{"data": "aaa\\nbbb"}`` or ``{"data_binary": "AQIDBQ=="}`` (base64): one byte stream (UTF-8
  for ``data``), which the envelope cuts into records; ``SkipTo`` skips bytes;
* a list, ``{"data": ["1", "2"]}`` or ``{"data_binary": ["AQ==", "Ag=="]}``: one message per element
  (``preserves_boundaries``); ``SkipToRecord`` skips elements.

Elements of ``data`` that are not strings (numbers, objects, as a hand-written JSON descriptor may have)
are sent as their compact JSON text, so ``"Data": [{"x": 1}]`` reads as the record ``{"x": 1}``.
Both shapes rewind (``Loop``).

Examples
--------
>>> t = InlineTransport({"type": "inline", "data": "aaa\\nbbb"})
>>> t.source(skip_to=4).read()
[b'bbb']
>>> list(InlineTransport({"type": "inline", "data_binary": ["AQ==", "Ag=="]}).source())
[b'\\x01', b'\\x02']
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any, ClassVar

from ..descriptor.traits import traits_of
from .base import Sink, Source, Transport
from .registry import direction_error

__all__ = ["InlineSource", "InlineTransport"]

logger = logging.getLogger(__name__)

#: Largest piece of a byte-stream ``data`` returned by one read, so a huge string is framed as it goes.
CHUNK_SIZE = 1 << 20
#: Most messages returned by one read of the list form.
BATCH = 1024


class InlineTransport(Transport):
    """Data carried in the descriptor (``data`` text or ``data_binary`` base64; a string or a list).

    The data is decoded when the transport is built, so a bad base64 element fails there, naming it.

    Parameters
    ----------
    spec
        The interpreted transport section, with ``data`` or ``data_binary``.
    stream
        The stream's name, for error messages.

    Examples
    --------
    >>> InlineTransport({"type": "inline", "data": ["1", "2"]}).preserves_boundaries
    True
    """

    type_name: ClassVar[str] = "inline"

    def __init__(self, spec: dict[str, Any], *, stream: str | None = None) -> None:
        super().__init__(spec, stream=stream)
        has_text = spec.get("data") is not None
        has_binary = spec.get("data_binary") is not None
        if has_text and has_binary:
            raise self.error("both Data and DataBinary are given", hint="use one of the two")
        if not has_text and not has_binary:
            raise self.error(
                "no data given", hint='set Transport.Data (e.g. ["1", "2"]) or Transport.DataBinary (base64)'
            )
        self.preserves_boundaries = traits_of(spec).preserves_boundaries
        self.messages: list[bytes] | None = None
        self.blob: bytes | None = None
        if has_text:
            data = spec["data"]
            if isinstance(data, list):
                self.messages = [_text_item(item) for item in data]
            else:
                self.blob = _text_item(data)
        else:
            data = spec["data_binary"]
            if isinstance(data, list):
                self.messages = [self._unbase64(item, f"DataBinary[{i}]") for i, item in enumerate(data)]
            else:
                self.blob = self._unbase64(data, "DataBinary")

    def _unbase64(self, value: Any, field: str) -> bytes:
        if not isinstance(value, (str, bytes)):
            raise self.error(
                f"Transport.{field} must be a base64 string, not {type(value).__name__}",
                hint='e.g. "AQIDBQ==" for the bytes 01 02 03 05',
            )
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self.error(
                f"Transport.{field} is not valid base64 ({exc})",
                hint="encode the bytes with base64 (standard alphabet, padded with '=')",
            ) from None

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> InlineSource:
        """Read the data, from byte ``skip_to`` (string form) or element ``skip_to_record`` (list form)."""
        start = 0
        if self.messages is not None:
            if skip_to is not None:
                raise self.error(
                    "SkipTo is a byte offset, and a list of data elements is not a byte stream",
                    hint="use SkipToRecord to skip elements",
                )
            start = self._record_index(skip_to_record)
        else:
            if skip_to_record is not None:
                raise self.error(
                    "a data string is a byte stream, it cannot skip to a record by itself",
                    hint="use SkipTo (a byte offset), or give the data as a list",
                )
            if skip_to is not None:
                if isinstance(skip_to, bool) or not isinstance(skip_to, int) or skip_to < 0:
                    raise self.error(f"SkipTo must be a byte offset (an integer >= 0), not {skip_to!r}")
                start = skip_to
        return InlineSource(self, start)

    def _record_index(self, skip_to_record: int | str | None) -> int:
        assert self.messages is not None
        if skip_to_record is None or skip_to_record == "earliest":
            return 0
        if skip_to_record == "latest":
            return len(self.messages)
        if isinstance(skip_to_record, bool) or not isinstance(skip_to_record, int) or skip_to_record < 0:
            raise self.error(
                f'SkipToRecord must be an element index (an integer >= 0), "earliest" or "latest", '
                f"not {skip_to_record!r}"
            )
        return skip_to_record

    def sink(self) -> Sink:
        raise direction_error(self, "output")


def _text_item(item: Any) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class InlineSource(Source):
    """Reads inline data: chunks of the string form, or messages of the list form."""

    def __init__(self, transport: InlineTransport, start: int) -> None:
        self.transport = transport
        self.preserves_boundaries = transport.preserves_boundaries
        self._pos = start
        self._closed = False

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """Everything still unread (in pieces of at most 1 MiB or 1024 messages), then ``None``."""
        if self._closed:
            raise self.transport.error("inline data was read after the source was closed")
        messages = self.transport.messages
        if messages is not None:
            if self._pos >= len(messages):
                return None
            batch = messages[self._pos : self._pos + BATCH]
            self._pos += len(batch)
            return batch
        blob = self.transport.blob
        assert blob is not None
        if self._pos >= len(blob):
            return None
        chunk = blob[self._pos : self._pos + CHUNK_SIZE]
        self._pos += len(chunk)
        return [chunk]

    def rewind(self) -> None:
        """Start again from the first byte or element (``Loop``)."""
        if self._closed:
            raise self.transport.error("inline data was rewound after the source was closed")
        self._pos = 0

    def close(self) -> None:
        self._closed = True
