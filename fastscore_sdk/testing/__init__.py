"""Testing helpers for fastscore_sdk and for users testing their own models and streams.

``fastscore_sdk.testing.plugin`` is a pytest plugin (enabled automatically through the ``pytest11``
entry point) whose fixtures start real servers on 127.0.0.1. A test that cannot get its server is
skipped with the reason, unless ``FASTSCORE_REQUIRE_SERVICES=1`` is set (CI sets it), in which case
it fails: a missing server must never pass silently.
"""

from __future__ import annotations

import os
import socket

__all__ = ["free_port", "services_required", "unavailable"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that is free at the time of the call (TCP by default).

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def services_required() -> bool:
    """True when ``$FASTSCORE_REQUIRE_SERVICES`` asks for every server to be present."""
    return os.environ.get("FASTSCORE_REQUIRE_SERVICES", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip the current test because a server is missing, or fail it when servers are required."""
    import pytest

    if services_required():
        pytest.fail(f"{reason} (FASTSCORE_REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(reason)
