"""pytest plugin: fixtures that start real servers for transport tests (see ``fastscore_sdk.testing``)."""

from __future__ import annotations


def pytest_report_header(config) -> str | None:
    from . import services_required

    if services_required():
        return "fastscore_sdk: FASTSCORE_REQUIRE_SERVICES=1 (a missing test server fails the test)"
    return None
