"""The e2e gateway (a real server on loopback) for the console tests, on each backend."""

from __future__ import annotations

from tests.e2e.conftest import (  # noqa: F401 (fixtures re-exported for this directory)
    embedder,
    gateway,
    gateway_clock,
    gateway_extra_settings,
    scanner_registry,
    scripted,
)
