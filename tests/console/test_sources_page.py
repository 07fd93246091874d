"""The data-sources page over plain HTTP: each caller sees the sources the API would
list for them, with their own rules; only the owner shares; a tried query takes the
API's path (the guard as the caller, read-only, audited by hash) and the page shows
the decision, the rewrite and the masked rows."""

from __future__ import annotations

import json
import sqlite3
from base64 import b64decode
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources.sources import DataSources
from tests.console.test_keys_page import Browser, person
from tests.e2e.conftest import TEST_KEK, Gateway

CONFIG = {
    "row_cap": 100,
    "classification": "restricted",
    "region": "eu-west-1",
    "tables": {
        "orders": {
            "columns": ["id", "owner", "amount", "email"],
            "masked": ["email"],
            "row_filter": "owner = :user_id",
        }
    },
}


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources}


def store(gateway: Gateway, directory: Path) -> DataSources:
    keyring = Keyring(
        gateway.engine, LocalKeyProvider(b64decode(TEST_KEK)), lambda: datetime.now(UTC)
    )
    return DataSources(gateway.engine, keyring, lambda: datetime.now(UTC), sqlite_dir=directory)


def sales(gateway: Gateway, settings: dict[str, object], owners: list[str]) -> tuple[str, str]:
    """A sqlite ``sales`` source owned by ``owners[0]``, three orders per owner; its id
    and the path of its file."""
    directory = Path(str(settings["data_sources_sqlite_dir"]))
    path = directory / "sales.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, owner TEXT, amount INTEGER, email TEXT)")
        rows = [(i, owner, 10 * i, f"c{i}@x.test") for i, owner in enumerate(owners)]
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows * 3)
    info = store(gateway, directory).connect(
        gateway.tenant_id, owners[0], "sales", "sqlite", f"sqlite:///{path}", CONFIG
    )
    return info.id, str(path)


def records(gateway: Gateway) -> list[dict[str, Any]]:
    return [json.loads(body) for body in gateway.audit_bodies()]


def test_the_owner_sees_the_sources_rules_and_others_see_nothing_unshared(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    ana, ana_cookie = person(gateway, "ana@acme.test", "member")
    bo, bo_cookie = person(gateway, "bo@acme.test", "member")
    source_id, path = sales(gateway, gateway_extra_settings, [ana, bo])
    with Browser(gateway, ana_cookie) as a, Browser(gateway, bo_cookie) as b:
        page = a.http.get("/console/sources").text
        theirs = b.http.get("/console/sources").text
        tried = b.post("/console/sources/try", {"source_id": source_id, "sql": "SELECT 1"})
        shared = b.post(
            f"/console/sources/{source_id}/shares", {"kind": "user", "grantee": "bo@acme.test"}
        )
    assert "sales" in page and "ana@acme.test (you)" in page
    assert "restricted" in page and "eu-west-1" in page
    assert "<code>owner = :user_id</code>" in page and "<td>email</td>" in page
    assert "Not shared: only you see it." in page
    assert path not in page and "sqlite:" not in page  # never the URL
    assert "sales" not in theirs.split("<main", 1)[1] and "No data source" in theirs
    assert "No such data source." in tried and "No such data source." in shared
    refused = [r for r in records(gateway) if r["outcome"] == "source_change_refused"]
    assert [r["error_code"] for r in refused] == ["not_found"]


def test_a_tried_query_is_guarded_as_the_caller(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    """A DELETE is refused with the guard's reason; a SELECT with OR 1=1 is rewritten
    with the caller's own row filter, runs, and shows only their rows, masked."""
    ana, cookie = person(gateway, "ana@acme.test", "member")
    bo, _ = person(gateway, "bo@acme.test", "member")
    source_id, _ = sales(gateway, gateway_extra_settings, [ana, bo])
    sql = "SELECT id, owner, amount, email FROM orders WHERE amount >= 0 OR 1=1"
    with Browser(gateway, cookie) as a:
        delete = a.post(
            "/console/sources/try", {"source_id": source_id, "sql": "DELETE FROM orders"}
        )
        ran = a.post("/console/sources/try", {"source_id": source_id, "sql": sql})
        empty = a.post("/console/sources/try", {"source_id": source_id, "sql": "  "})
        long = a.post("/console/sources/try", {"source_id": source_id, "sql": "x" * 20_001})
    assert 'data-decision="refused"' in delete and "<code>not_select</code>" in delete
    assert "Nothing ran." in delete
    assert 'data-decision="ran"' in ran and "3 rows" in ran
    rewrite = unescape(ran.split('<pre class="sql"><code>', 1)[1].split("</code>", 1)[0])
    assert f"WHERE \"owner\" = '{ana}')" in rewrite and rewrite.endswith("LIMIT 101")
    assert ana in ran and bo not in ran  # only ana's rows
    assert "c0@x.test" not in ran and ran.count("<td>***</td>") == 3  # masked
    assert "Enter a SELECT" in empty and "longer than 20000" in long
    queries = [r for r in records(gateway) if r["route"] == "POST /console/sources/try"]
    assert [r["outcome"] for r in queries] == ["query_refused", "query_ran"]
    assert queries[0]["data_sources"][0]["guard"] == "not_select"
    assert queries[1]["data_sources"][0]["rows"] == 3
    assert "OR 1=1" not in json.dumps(queries) and "DELETE" not in json.dumps(queries)
    assert gateway.verify().ok


def test_the_owner_shares_and_withdraws_and_nobody_else_can(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    ana, ana_cookie = person(gateway, "ana@acme.test", "member")
    bo, bo_cookie = person(gateway, "bo@acme.test", "member")
    source_id, _ = sales(gateway, gateway_extra_settings, [ana, bo])
    share = f"/console/sources/{source_id}/shares"
    with Browser(gateway, ana_cookie) as a, Browser(gateway, bo_cookie) as b:
        added = a.post(share, {"kind": "user", "grantee": "BO@acme.test"})
        bo_page = b.http.get("/console/sources").text
        bo_ran = b.post(
            "/console/sources/try",
            {"source_id": source_id, "sql": "SELECT owner FROM orders"},
        )
        bo_shares = b.post(share, {"kind": "role", "grantee": "member"})
        bo_removes = b.post(share + "/remove", {"kind": "user", "grantee": bo})
        unknown = a.post(share, {"kind": "user", "grantee": "nobody@acme.test"})
        bad_role = a.post(share, {"kind": "role", "grantee": "emperor"})
        no_csrf = a.post(share, {"kind": "role", "grantee": "member"}, csrf=False)
        removed = a.post(share + "/remove", {"kind": "user", "grantee": bo})
        gone = b.http.get("/console/sources").text
    assert "Shared." in added and f'id="shares-{source_id}"' in added
    assert 'hx-swap-oob="true"' in added and "user: bo@acme.test" in added
    assert "sales" in bo_page and "ana@acme.test" in bo_page and "Shares" not in bo_page
    assert "3 rows" in bo_ran and ana not in bo_ran  # bo's rows
    assert "Only the source" in bo_shares and "Only the source" in bo_removes
    assert "No user with that email" in unknown
    assert 'data-code="invalid_request"' in bad_role and "unknown role" in bad_role
    assert "X-CSRF-Token" in no_csrf
    assert "Share withdrawn." in removed and "Not shared" in removed
    assert "No data source" in gone
    outcomes = [
        (r["route"].rsplit("/", 1)[-1], r["outcome"], r.get("error_code"))
        for r in records(gateway)
        if r["route"].startswith("POST /console/sources/{source_id}")
    ]
    assert outcomes == [
        ("shares", "source_shared", None),
        ("shares", "source_change_refused", "permission_denied"),
        ("remove", "source_change_refused", "permission_denied"),
        ("shares", "source_change_refused", "invalid_request"),
        ("remove", "source_unshared", None),
    ]


def test_a_role_without_datasources_use_is_refused(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    ana, _ = person(gateway, "ana@acme.test", "member")
    source_id, _ = sales(gateway, gateway_extra_settings, [ana])
    _, cookie = person(gateway, "vi@acme.test", "viewer")
    with Browser(gateway, cookie) as viewer:
        page = viewer.http.get("/console/sources")
        tried = viewer.post("/console/sources/try", {"source_id": source_id, "sql": "SELECT 1"})
    assert page.status_code == 403
    assert 'class="refusal"' in tried and "datasources.use" in tried
