"""The inline transport: a byte-stream form and a message form, both through the conformance suite."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from fastscore_sdk.descriptor.traits import traits_of
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.inline import InlineTransport


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class TestInlineByteStream(TransportConformance):
    """``DataBinary`` as one base64 string: a seekable byte stream."""

    supports_output = False
    seekable = True

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        return {"type": "inline", "data_binary": _b64(payload)}

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "inline", "data_binary": "AQI"}


class TestInlineMessages(TransportConformance):
    """``DataBinary`` as a list of base64 strings: one message per element."""

    supports_output = False
    seekable = True
    preserves_boundaries = True

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        return {"type": "inline", "data_binary": [_b64(m) for m in payload]}

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "inline", "data_binary": ["AQ==", "%%"]}


def _read(spec: dict[str, Any], **kwargs: Any) -> list[bytes]:
    with open_transport(spec, stream="in").source(**kwargs) as src:
        return list(src)


def test_data_string_is_one_utf8_byte_stream() -> None:
    spec = {"type": "inline", "data": "aaa\nbbb\nccc é"}
    transport = open_transport(spec)
    assert not transport.source().preserves_boundaries
    assert b"".join(_read(spec)) == "aaa\nbbb\nccc é".encode()


def test_data_list_is_one_message_per_element() -> None:
    spec = {"type": "inline", "data": ["1", "2", "☃"]}
    with open_transport(spec).source() as src:
        assert src.preserves_boundaries
        assert list(src) == [b"1", b"2", "☃".encode()]


def test_non_string_elements_are_sent_as_json() -> None:
    assert _read({"type": "inline", "data": [{"x": 1, "é": [1.5, None]}, 3, True]}) == [
        '{"x":1,"é":[1.5,null]}'.encode(),
        b"3",
        b"true",
    ]


def test_data_binary_string_and_list() -> None:
    assert b"".join(_read({"type": "inline", "data_binary": "AQIDBQ=="})) == b"\x01\x02\x03\x05"
    assert _read({"type": "inline", "data_binary": ["AQ==", "Ag==", ""]}) == [b"\x01", b"\x02", b""]


def test_preserves_boundaries_agrees_with_traits() -> None:
    for spec in (
        {"type": "inline", "data": "x"},
        {"type": "inline", "data": ["x"]},
        {"type": "inline", "data_binary": "AQ=="},
        {"type": "inline", "data_binary": ["AQ=="]},
    ):
        transport = InlineTransport(spec)
        assert transport.preserves_boundaries is traits_of(spec).preserves_boundaries
        assert transport.source().preserves_boundaries is traits_of(spec).preserves_boundaries


def test_bad_base64_names_the_field_and_index() -> None:
    with pytest.raises(TransportError) as info:
        open_transport({"type": "inline", "data_binary": ["AQ==", "not base64!"]}, stream="bin")
    message = str(info.value)
    assert "stream 'bin'" in message
    assert "Transport.DataBinary[1] is not valid base64" in message


def test_bad_base64_string_names_the_field() -> None:
    with pytest.raises(TransportError, match=r"Transport\.DataBinary is not valid base64"):
        open_transport({"type": "inline", "data_binary": "AQI"}, stream="bin")


def test_base64_element_must_be_a_string() -> None:
    with pytest.raises(TransportError, match=r"DataBinary\[0\] must be a base64 string, not int"):
        open_transport({"type": "inline", "data_binary": [5]})


def test_one_of_data_or_data_binary() -> None:
    with pytest.raises(TransportError, match="use one of the two"):
        open_transport({"type": "inline", "data": "a", "data_binary": "AQ=="})
    with pytest.raises(TransportError, match="no data given"):
        open_transport({"type": "inline"})


def test_skip_to_skips_bytes_of_a_string() -> None:
    # The old CLI's dbg1.json: SkipTo 2 on a Data string.
    assert b"".join(_read({"type": "inline", "data": "1\n2\n3\n"}, skip_to=2)) == b"2\n3\n"


def test_skip_to_on_a_list_is_refused() -> None:
    with pytest.raises(TransportError, match="use SkipToRecord"):
        open_transport({"type": "inline", "data": ["1"]}, stream="in").source(skip_to=1)


def test_skip_to_record_on_a_string_is_refused() -> None:
    with pytest.raises(TransportError, match="SkipTo"):
        open_transport({"type": "inline", "data": "1\n2\n"}, stream="in").source(skip_to_record=1)


def test_skip_to_record_keywords() -> None:
    spec = {"type": "inline", "data": ["a", "b", "c"]}
    assert _read(spec, skip_to_record=2) == [b"c"]
    assert _read(spec, skip_to_record="earliest") == [b"a", b"b", b"c"]
    assert _read(spec, skip_to_record="latest") == []
    assert _read(spec, skip_to_record=10) == []
    with pytest.raises(TransportError, match="SkipToRecord must be"):
        open_transport(spec, stream="in").source(skip_to_record=-1)


def test_rewind_loops_over_the_list() -> None:
    with open_transport({"type": "inline", "data": ["1", "2"]}).source(skip_to_record=1) as src:
        assert list(src) == [b"2"]
        src.rewind()
        assert list(src) == [b"1", b"2"]


def test_large_lists_come_in_batches() -> None:
    data = [str(i) for i in range(5000)]
    with open_transport({"type": "inline", "data": data}).source() as src:
        sizes = []
        while (items := src.read()) is not None:
            sizes.append(len(items))
    assert len(sizes) > 1 and sum(sizes) == 5000
    assert _read({"type": "inline", "data": data}) == [s.encode() for s in data]


def test_writing_is_refused_with_a_hint() -> None:
    with pytest.raises(TransportError) as info:
        open_transport({"type": "inline", "data": ["1"]}, stream="numbers").sink()
    message = str(info.value)
    assert "stream 'numbers'" in message
    assert "inline is input only" in message
    assert "even slot" in message
