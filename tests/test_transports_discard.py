"""The discard transport: conformance suite plus counting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.discard import DiscardSink


class TestDiscard(TransportConformance):
    supports_input = False
    preserves_boundaries = True

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "discard"}

    def read_back(self, spec: dict[str, Any], sink: Sink) -> None:
        return None  # nothing is kept


def test_counts_items_and_bytes() -> None:
    with open_transport({"type": "discard"}, stream="out").sink() as sink:
        assert isinstance(sink, DiscardSink)
        sink.write([b"1", b"22"])
        sink.write([])
        sink.write([b"333"])
    assert (sink.items_written, sink.bytes_written) == (3, 6)


def test_reading_is_refused() -> None:
    with pytest.raises(TransportError, match="discard is output only"):
        open_transport({"type": "discard"}, stream="out").source()
