"""/v1/sources over HTTP: connect, list, share, query as the caller through the guard
and the read-only executor; the URL never comes back; every query audited."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import need_service
from tests.e2e.conftest import Gateway


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources, "data_sources_allowed_hosts": ["127.0.0.1"]}


def sales_db(directory: Path, owners: dict[str, str]) -> Path:
    """orders rows owned by each user id (by email key)."""
    path = directory / "sales.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, owner TEXT, amount INTEGER, email TEXT)")
        rows = [(i, owner, 10 * i, f"c{i}@x.test") for i, owner in enumerate(owners.values())]
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows * 3)
    return path


CONFIG = {
    "row_cap": 100,
    "tables": {
        "orders": {
            "columns": ["id", "owner", "amount", "email"],
            "masked": ["email"],
            "row_filter": "owner = :user_id",
        }
    },
}


def user_key(gateway: Gateway, email: str, role: str = "member") -> tuple[str, str]:
    issued = gateway.identity.create_key("acme", email, datetime.now(UTC), role=role)
    tenant_id = gateway.tenant_id
    with gateway.engine.connect() as conn:
        user_id = conn.exec_driver_sql(
            "SELECT id FROM users WHERE tenant_id = ? AND email = ?"
            if gateway.engine.dialect.name == "sqlite"
            else "SELECT id FROM users WHERE tenant_id = %s AND email = %s",
            (tenant_id, email),
        ).scalar_one()
    return issued.secret, str(user_id)


def test_a_source_answers_each_caller_with_their_own_rows(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    ana_key, ana = user_key(gateway, "ana@acme.test")
    bo_key, bo = user_key(gateway, "bo@acme.test")
    viewer_key, _ = user_key(gateway, "vi@acme.test", role="viewer")
    path = sales_db(
        Path(str(gateway_extra_settings["data_sources_sqlite_dir"])), {"a": ana, "b": bo}
    )
    url = f"sqlite:///{path}"

    def http(key: str) -> httpx.Client:
        return httpx.Client(
            base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
        )

    with http(ana_key) as ana_http, http(bo_key) as bo_http, http(viewer_key) as viewer:
        made = ana_http.post(
            "/v1/sources", json={"name": "sales", "kind": "sqlite", "url": url, "config": CONFIG}
        )
        assert made.status_code == 201, made.text
        source_id = made.json()["id"]
        assert str(path) not in made.text
        assert bo_http.get("/v1/sources").json() == []  # not shared with bo
        sql = {"sql": "SELECT id, owner, amount, email FROM orders WHERE amount >= 0 OR 1=1"}
        assert bo_http.post(f"/v1/sources/{source_id}/query", json=sql).status_code == 404
        answer = ana_http.post(f"/v1/sources/{source_id}/query", json=sql).json()
        assert {row[1] for row in answer["rows"]} == {ana} and answer["row_count"] == 3
        assert {row[3] for row in answer["rows"]} == {"***"}
        assert "LIMIT" in answer["sql"] and answer["tables"] == ["orders"]
        share = ana_http.post(
            f"/v1/sources/{source_id}/shares", json={"kind": "role", "grantee": "member"}
        )
        assert share.status_code == 204
        listed = bo_http.get("/v1/sources").json()
        assert [s["name"] for s in listed] == ["sales"] and "url" not in listed[0]
        theirs = bo_http.post(f"/v1/sources/{source_id}/query", json=sql).json()
        assert {row[1] for row in theirs["rows"]} == {bo}
        refused = bo_http.post(f"/v1/sources/{source_id}/query", json={"sql": "DELETE FROM orders"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "query_refused"
        assert bo_http.delete(f"/v1/sources/{source_id}").status_code == 404  # only the owner
        assert viewer.get("/v1/sources").status_code == 403  # no datasources.use
        bad = ana_http.post(
            "/v1/sources",
            json={
                "name": "own",
                "kind": "sqlite",
                "url": "sqlite:////etc/passwd",
                "config": CONFIG,
            },
        )
        assert bad.status_code == 400 and "/etc/passwd" not in bad.text
    records = [json.loads(b) for b in gateway.audit_bodies()]
    queries = [r for r in records if r["route"] == "POST /v1/sources/{source_id}/query"]
    assert [r["outcome"] for r in queries] == ["query_ran", "query_ran", "query_refused"]
    assert queries[0]["data_sources"][0]["rows"] == 3
    assert queries[2]["data_sources"][0]["guard"] == "not_select"
    assert "OR 1=1" not in json.dumps(queries)
    changes = [(r["route"], r["outcome"]) for r in records if r["route"] != queries[0]["route"]]
    assert ("POST /v1/sources", "source_connected") in changes
    assert ("POST /v1/sources/{source_id}/shares", "source_shared") in changes
    assert ("DELETE /v1/sources/{source_id}", "source_change_refused") in changes  # bo's
    assert ("POST /v1/sources", "source_change_refused") in changes  # /etc/passwd
    assert str(path) not in json.dumps(records) and "/etc/passwd" not in json.dumps(records)
    assert gateway.verify().ok


def test_the_owner_sees_how_strong_a_sources_login_is(
    gateway: Gateway, gateway_extra_settings: dict[str, object], pg_available: bool
) -> None:
    need_service("PostgreSQL", pg_available)
    ana_key, _ = user_key(gateway, "ana@acme.test")
    bo_key, _ = user_key(gateway, "bo@acme.test")
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    config = {"tables": {"pg_settings_copy": {}}}
    with (
        httpx.Client(
            base_url=gateway.base_url, headers={"authorization": f"Bearer {ana_key}"}
        ) as ana,
        httpx.Client(
            base_url=gateway.base_url, headers={"authorization": f"Bearer {bo_key}"}
        ) as bo,
    ):
        made = ana.post(
            "/v1/sources", json={"name": "pg", "kind": "postgres", "url": url, "config": config}
        )
        assert made.status_code == 201, made.text
        source_id = made.json()["id"]
        report = ana.get(f"/v1/sources/{source_id}/login")
        assert report.status_code == 200, report.text
        assert report.json()["superuser"] is True  # the postgres login: a warning to act on
        assert bo.get(f"/v1/sources/{source_id}/login").status_code == 404  # not shared
        ana.post(f"/v1/sources/{source_id}/shares", json={"kind": "role", "grantee": "member"})
        assert bo.get(f"/v1/sources/{source_id}/login").status_code == 403  # owner only
