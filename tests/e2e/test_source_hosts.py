"""POST /v1/sources and the network allow-list, over HTTP: a host not on
data_sources_allowed_hosts is a 400 naming the setting (never echoing the URL or its
password); with the list empty, no network source at all; SQLite keeps its own rule."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Gateway

PASSWORD = "pw-Zq81-never-shown"
CONFIG: dict[str, Any] = {"tables": {"orders": {"columns": ["id"]}}}


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources, "data_sources_allowed_hosts": ["127.0.0.1"]}


def connect(gateway: Gateway, name: str, kind: str, url: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/sources",
        json={"name": name, "kind": kind, "url": url, "config": CONFIG},
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=30,
    )


def assert_refused(response: httpx.Response, url: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        "url",
    )
    assert "BASTION_DATA_SOURCES_ALLOWED_HOSTS" in error["message"]
    assert PASSWORD not in response.text and url not in response.text


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("postgres", f"postgresql+psycopg://x:{PASSWORD}@169.254.169.254/db"),
        ("postgres", f"postgresql+psycopg://x:{PASSWORD}@10.0.0.1/db"),
        ("postgres", f"postgresql+psycopg://x:{PASSWORD}@[fe80::1]:5432/db"),
        ("postgres", f"postgresql+psycopg://x:{PASSWORD}@2852039166/db"),  # 169.254.169.254
        ("mysql", f"mysql+pymysql://x:{PASSWORD}@169.254.169.254/db"),
        ("mysql", f"mysql+pymysql://x:{PASSWORD}@0xa9.0xfe.0xa9.0xfe:3306/db"),
    ],
)
def test_a_host_off_the_list_is_refused_naming_the_setting(
    gateway: Gateway, kind: str, url: str
) -> None:
    assert_refused(connect(gateway, "meta", kind, url), url)
    listing = httpx.get(
        f"{gateway.base_url}/v1/sources",
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=30,
    )
    assert listing.json() == []  # nothing was stored


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://x:{PASSWORD}@127.0.0.1:5432/db",
        f"postgresql+psycopg://x:{PASSWORD}@2130706433:5432/db",  # reads as 127.0.0.1
    ],
)
def test_a_listed_address_is_accepted(gateway: Gateway, url: str) -> None:
    made = connect(gateway, "local", "postgres", url)
    assert made.status_code == 201, made.text
    assert PASSWORD not in made.text


@pytest.mark.parametrize("gateway_extra_settings", [{}])
def test_with_no_list_there_are_no_network_sources(gateway: Gateway) -> None:
    """The default: even loopback is refused, and the message says what to set."""
    url = f"postgresql+psycopg://x:{PASSWORD}@127.0.0.1:5432/db"
    response = connect(gateway, "local", "postgres", url)
    assert_refused(response, url)
    assert "disabled" in response.json()["error"]["message"]


def test_sqlite_sources_keep_their_directory_rule(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    path = Path(str(gateway_extra_settings["data_sources_sqlite_dir"])) / "x.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
    assert connect(gateway, "lite", "sqlite", f"sqlite:///{path}").status_code == 201
    outside = connect(gateway, "out", "sqlite", "sqlite:////etc/passwd")
    assert outside.status_code == 400
    assert "allowed directory" in outside.json()["error"]["message"]
