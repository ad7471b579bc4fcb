"""An in-process IPython shell for testing magics under pytest (jupysql's ``TestingShell`` habit).

Usage in a test module::

    import pytest
    from fastscore_sdk.notebook._testing import TestingShell

    @pytest.fixture
    def ip():
        shell = TestingShell.preconfigured_shell()
        yield shell
        shell.clean()

    def test_schema(ip):
        ip.run_cell("%%schema price\\ndouble")
        assert ip.user_ns["price"].avro == "double"

:meth:`TestingShell.run_cell` re-raises the cell's error (a ``UsageError`` for a short magic error),
so a test can use ``pytest.raises``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from traitlets.config import Config

__all__ = ["TestingShell", "ensure_memory_transport"]


class TestingShell(InteractiveShell):
    """An ``InteractiveShell`` whose ``run_cell`` raises what the cell raised."""

    __test__ = False  # not a pytest test class, despite the name

    def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result

    @classmethod
    def preconfigured_shell(cls) -> TestingShell:
        """The process's testing shell, with ``%load_ext fastscore_sdk`` done and a fresh library.

        IPython allows one interactive shell per process, so every call returns the same shell;
        :meth:`clean` resets what a test changed.
        """
        config = Config()
        # No history database: tests must not write to the user's IPython profile.
        config.HistoryManager.enabled = False
        config.HistoryManager.hist_file = ":memory:"
        shell = cls.instance(config=config)
        shell.clean()
        shell.load_fastscore()
        return shell

    def load_fastscore(self) -> None:
        """``%load_ext fastscore_sdk``, also after the magics were removed by a test."""
        from .magics import _find

        if _find(self) is None:
            self.extension_manager.loaded.discard("fastscore_sdk")
            self.run_line_magic("load_ext", "fastscore_sdk")

    def clean(self) -> None:
        """Forget the notebook's variables, reset the magics' options and engine, and give the
        session a fresh in-memory library."""
        from ..library import Library
        from .magics import FastScoreMagics

        for magics in self.configurables:
            if isinstance(magics, FastScoreMagics):
                magics.close()
                magics._engine = None
                for name, trait in magics.traits(config=True).items():
                    if name != "library_path":
                        setattr(magics, name, trait.default())
                magics.library_path = None
        # What reset() does for variables, without its gc.collect (a fifth of a second per test
        # once pandas is loaded).
        # Output caches (_1, _2, ...) are pushed as hidden variables, so they are named here.
        hidden = self.user_ns_hidden
        for key in [k for k in self.user_ns if k not in hidden or k[1:].isdigit()]:
            del self.user_ns[key]
        self.history_manager.output_hist.clear()
        for key in ("_", "__", "___"):
            self.user_ns[key] = ""
        Library.set_default(Library())


def ensure_memory_transport(monkeypatch: Any) -> None:
    """Make the ``memory`` transport usable in a test where this installation does not list it yet.

    The descriptor tables (types, fields, traits) and the transport registry are patched through
    pytest's ``monkeypatch``, so everything is undone after the test. Where ``memory`` is already
    registered this does nothing.
    """
    from ..descriptor import fields, traits
    from ..transports import memory
    from ..transports.registry import transports

    if "memory" in traits.TRAITS and "memory" in transports:
        return
    monkeypatch.setitem(traits.TRAITS, "memory", memory.TRAITS)
    monkeypatch.setitem(fields.TRANSPORT_TYPES, "memory", "memory")
    monkeypatch.setitem(fields.TRANSPORT_FIELDS, "memory", memory.FIELDS)
    # Through the registry's own tables, so that monkeypatch can take the entry out again.
    from .._registry import Entry

    monkeypatch.setitem(transports._entries, "memory", Entry(memory.MemoryTransport))
    monkeypatch.setitem(transports._loaded, "memory", memory.MemoryTransport)
