"""The e2e gateway (a real server on loopback, the scripted hijackable upstream) for
the red-team tests, on SQLite only: these tests judge the red team, not the backend,
and must stay well under a minute."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import (  # noqa: F401 (fixtures re-exported for this directory)
    embedder,
    gateway,
    gateway_clock,
    scanner_registry,
    scripted,
)


@pytest.fixture
def db_url(tmp_path: Path, migrated_templates: dict[str, str]) -> str:
    """A fresh migrated SQLite database (this directory does not run on PostgreSQL)."""
    target = tmp_path / "bastion.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    return f"sqlite:///{target}"


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources}
