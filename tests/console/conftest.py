"""The e2e gateway (a real server on loopback) for the console tests, on each backend,
and the browser harness (tests.console.browser)."""

from __future__ import annotations

from tests.console.browser import page, sso  # noqa: F401 (fixtures)
from tests.e2e.conftest import (  # noqa: F401 (fixtures re-exported for this directory)
    embedder,
    gateway,
    gateway_clock,
    gateway_extra_settings,
    scanner_registry,
    scripted,
)
