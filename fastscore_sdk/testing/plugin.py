"""pytest plugin: fixtures that start real servers for transport tests (see ``fastscore_sdk.testing``).

Enabled automatically (``pytest11`` entry point) wherever fastscore_sdk is installed, so users can
test their own models and streams against the same servers. Each server family lives in its own
module; the fixtures are session-scoped and start their server on first use only.
"""

from __future__ import annotations

from .kafka import *  # noqa: F403
from .mysql import *  # noqa: F403
from .network import *  # noqa: F403
from .s3 import *  # noqa: F403


def pytest_report_header(config) -> str | None:
    from . import services_required

    if services_required():
        return "fastscore_sdk: FASTSCORE_REQUIRE_SERVICES=1 (a missing test server fails the test)"
    return None
