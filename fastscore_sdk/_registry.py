"""Lazy, string-keyed registries: one per axis of the data path (transports, envelopes, encodings).

An entry names its class by a dotted string (``"fastscore_sdk.transports.file:FileTransport"``) that is
imported on first use, so optional dependencies cost nothing until a descriptor asks for them, and a
missing one fails with the pip command that installs it. Plugins register through the entry-point group
of the axis (``fastscore_sdk.transports``, ``fastscore_sdk.envelopes``, ``fastscore_sdk.encodings``);
an entry point's name is the descriptor's type name and its value the class.
"""

from __future__ import annotations

import importlib
import threading
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from .errors import MissingDependencyError


@dataclass(frozen=True)
class Entry:
    target: str | type
    """``"package.module:Class"`` or the class itself."""
    extra: str | None = None
    """The ``fastscore_sdk[extra]`` that provides the dependencies, for the install hint."""


class Registry(Mapping[str, Entry]):
    """A read-only view of name -> :class:`Entry`, with :meth:`register` and lazy :meth:`load`.

    Names are compared case-insensitively (descriptors write ``kafka``, ``Kafka`` and ``KAFKA``).

    Examples
    --------
    >>> r = Registry("example", {"json": Entry("json:JSONDecoder")})
    >>> r.load("JSON").__name__
    'JSONDecoder'
    """

    def __init__(self, axis: str, entries: Mapping[str, Entry], group: str | None = None) -> None:
        self.axis = axis
        self.group = group
        self._entries: dict[str, Entry] = {k.lower(): v for k, v in entries.items()}
        self._loaded: dict[str, type] = {}
        self._plugins_read = group is None
        self._lock = threading.Lock()
        self.entries = types.MappingProxyType(self._entries)

    def register(
        self, name: str, target: str | type, *, extra: str | None = None, clobber: bool = False
    ) -> None:
        """Add ``name``; refuses to replace an existing entry unless ``clobber=True``."""
        key = name.lower()
        self._read_plugins()
        if key in self._entries and not clobber:
            raise ValueError(f"{self.axis} {name!r} is already registered; pass clobber=True to replace it")
        self._entries[key] = Entry(target, extra)
        self._loaded.pop(key, None)

    def load(self, name: str) -> type:
        """Import (once) and return the class registered under ``name``."""
        key = name.lower()
        cls = self._loaded.get(key)
        if cls is not None:
            return cls
        self._read_plugins()
        entry = self._entries.get(key)
        if entry is None:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.axis} {name!r} (known: {known})")
        with self._lock:
            cls = self._loaded.get(key) or _import(entry, f"the {name!r} {self.axis}")
            self._loaded[key] = cls
        return cls

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        for ep in entry_points(group=self.group):
            self._entries.setdefault(ep.name.lower(), Entry(ep.value))

    def __getitem__(self, name: str) -> Entry:
        self._read_plugins()
        return self._entries[name.lower()]

    def __iter__(self) -> Iterator[str]:
        self._read_plugins()
        return iter(self._entries)

    def __len__(self) -> int:
        self._read_plugins()
        return len(self._entries)


def _import(entry: Entry, what: str) -> Any:
    if isinstance(entry.target, type):
        return entry.target
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # Only a third-party module missing is a missing extra; a broken import of our own must surface.
        if entry.extra is None or (exc.name or "").startswith("fastscore_sdk"):
            raise
        raise MissingDependencyError(what, extra=entry.extra) from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
