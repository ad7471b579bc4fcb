"""The transport registry: every traits type registered, lookups, plugins, install hints."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from fastscore_sdk import _registry
from fastscore_sdk._registry import Entry, Registry
from fastscore_sdk.descriptor.traits import TRAITS
from fastscore_sdk.errors import MissingDependencyError, NotSupportedError, TransportError
from fastscore_sdk.transports import (
    Transport,
    available_transports,
    open_transport,
    register_transport,
    touches_host,
    transports,
)
from fastscore_sdk.transports.discard import DiscardTransport
from fastscore_sdk.transports.registry import HDFSTransport, KafkaOffsetTransport

LOCAL = {"file", "inline", "exec", "console", "discard", "hdfs", "kafka-offset"}


def test_every_traits_type_is_registered() -> None:
    assert set(TRAITS) <= set(available_transports())


def test_targets_are_lazy_dotted_strings_with_extras_from_traits() -> None:
    for name, traits in TRAITS.items():
        entry = transports[name]
        assert isinstance(entry.target, str)
        assert entry.target.startswith("fastscore_sdk.transports.")
        assert entry.extra == traits.extra
    assert transports["kafka"].extra == "kafka"
    assert transports["s3"].extra == "s3"
    assert transports["odbc"].extra == "odbc"


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_local_transports_load_with_their_traits(name: str) -> None:
    cls = transports.load(name)
    assert issubclass(cls, Transport)
    assert cls.type_name == name


def test_type_is_case_insensitive(tmp_path: Any) -> None:
    transport = open_transport({"type": "DISCARD"}, stream="out")
    assert isinstance(transport, DiscardTransport)
    assert transport.stream == "out"


def test_spec_is_copied() -> None:
    spec = {"type": "inline", "data": ["1"]}
    transport = open_transport(spec)
    assert transport.spec == spec and transport.spec is not spec


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(TransportError) as info:
        open_transport({"type": "carrier-pigeon"}, stream="s")
    message = str(info.value)
    assert "stream 's'" in message and "unknown transport type 'carrier-pigeon'" in message
    assert "file" in message and "kafka" in message and "inline" in message


@pytest.mark.parametrize("spec", [{}, {"type": None}, {"type": ""}, {"type": 3}])
def test_missing_type(spec: dict[str, Any]) -> None:
    with pytest.raises(TransportError, match="has no type"):
        open_transport(spec, stream="s")


def test_spec_must_be_a_mapping() -> None:
    with pytest.raises(TransportError, match="must be an object"):
        open_transport("file:/x", stream="s")  # type: ignore[arg-type]


def test_options_reach_the_constructor(tmp_path: Any) -> None:
    transport = open_transport({"type": "file", "path": str(tmp_path / "x")}, chunk_size=7)
    assert transport.chunk_size == 7  # type: ignore[attr-defined]


def test_missing_dependency_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        transports._entries, "needs-extra", Entry("fastscore_not_installed_pkg.mod:Cls", extra="kafka")
    )
    with pytest.raises(MissingDependencyError) as info:
        open_transport({"type": "needs-extra"})
    assert "pip install 'fastscore_sdk[kafka]'" in str(info.value)


@pytest.mark.parametrize("cls", [HDFSTransport, KafkaOffsetTransport])
def test_unsupported_types_verify_but_do_not_open(cls: type[Transport]) -> None:
    transport = open_transport({"type": cls.type_name, "path": "/x"}, stream="legacy")
    assert isinstance(transport, cls)
    for opener in (transport.source, transport.sink):
        with pytest.raises(NotSupportedError) as info:
            opener()
        message = str(info.value)
        assert "stream 'legacy'" in message
        assert f"the {cls.type_name} transport is not supported yet" in message
        assert isinstance(info.value, NotImplementedError)


def test_register_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transports, "_entries", dict(transports._entries))
    monkeypatch.setattr(transports, "_loaded", dict(transports._loaded))
    register_transport("blackhole", "fastscore_sdk.transports.discard:DiscardTransport")
    assert isinstance(open_transport({"type": "BlackHole"}), DiscardTransport)
    with pytest.raises(ValueError, match="already registered"):
        register_transport("blackhole", DiscardTransport)
    register_transport("blackhole", DiscardTransport, clobber=True)
    assert "blackhole" in available_transports()


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    seen_groups = []

    def fake_entry_points(group: str) -> list[EntryPoint]:
        seen_groups.append(group)
        return [EntryPoint("pigeon", "fastscore_sdk.transports.discard:DiscardTransport", group)]

    monkeypatch.setattr(_registry, "entry_points", fake_entry_points)
    fresh = Registry(
        "transport", {"file": Entry("fastscore_sdk.transports.file:FileTransport")}, group=transports.group
    )
    assert fresh.load("pigeon") is DiscardTransport
    assert seen_groups == ["fastscore_sdk.transports"]


def test_touches_host() -> None:
    assert touches_host({"type": "file", "path": "/etc/passwd"})
    assert touches_host("EXEC")
    for name in ("inline", "console", "discard", "hdfs", "no-such-type"):
        assert not touches_host(name)
