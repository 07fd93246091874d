"""A source's shares over HTTP: the owner lists them and withdraws one; the grantee then
loses the source; a share that is not there is a 404, never a silent 204; nobody but
the owner sees or changes the shares; every change, and every refused one, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Gateway
from tests.e2e.test_sources_api import CONFIG, gateway_extra_settings, sales_db, user_key

__all__ = ["gateway_extra_settings"]  # the fixture: SQLite sources in the test's directory

SQL = {"sql": "SELECT id, owner, amount FROM orders"}
DELETE_ROUTE = "DELETE /v1/sources/{source_id}/shares/{kind}/{grantee}"
POST_ROUTE = "POST /v1/sources/{source_id}/shares"


@contextmanager
def client(gateway: Gateway, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        yield http


def connect_sales(gateway: Gateway, settings: dict[str, object], http: httpx.Client) -> str:
    """The owner behind ``http`` connects a SQLite ``sales`` source; its id."""
    path = sales_db(Path(str(settings["data_sources_sqlite_dir"])), {})
    made = http.post(
        "/v1/sources",
        json={"name": "sales", "kind": "sqlite", "url": f"sqlite:///{path}", "config": CONFIG},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def share(http: httpx.Client, source_id: str, kind: str, grantee: str) -> httpx.Response:
    return http.post(f"/v1/sources/{source_id}/shares", json={"kind": kind, "grantee": grantee})


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def records(gateway: Gateway) -> list[dict[str, Any]]:
    return [json.loads(body) for body in gateway.audit_bodies()]


def test_the_owner_lists_and_withdraws_shares(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    """Withdrawing bo's share takes the source from bo; withdrawing it again is a 404."""
    ana_key, _ = user_key(gateway, "ana@acme.test")
    bo_key, bo = user_key(gateway, "bo@acme.test")
    with client(gateway, ana_key) as ana, client(gateway, bo_key) as bo_http:
        source_id = connect_sales(gateway, gateway_extra_settings, ana)
        assert share(ana, source_id, "user", bo).status_code == 204
        assert share(ana, source_id, "role", "admin").status_code == 204
        listed = ana.get(f"/v1/sources/{source_id}/shares")
        assert bo_http.post(f"/v1/sources/{source_id}/query", json=SQL).status_code == 200
        removed = ana.delete(f"/v1/sources/{source_id}/shares/user/{bo}")
        bo_sees = bo_http.get("/v1/sources").json()
        bo_queries = bo_http.post(f"/v1/sources/{source_id}/query", json=SQL)
        again = ana.delete(f"/v1/sources/{source_id}/shares/user/{bo}")
        left = ana.get(f"/v1/sources/{source_id}/shares").json()
        role_removed = ana.delete(f"/v1/sources/{source_id}/shares/role/admin")
        none_left = ana.get(f"/v1/sources/{source_id}/shares").json()
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["object"] == "list"
    assert [(s["kind"], s["grantee"]) for s in body["data"]] == [("role", "admin"), ("user", bo)]
    assert all(s["created_at"] for s in body["data"])
    assert removed.status_code == 204 and removed.content == b""
    assert bo_sees == [] and bo_queries.status_code == 404
    assert error_code(again) == (404, "not_found")
    assert again.json()["error"]["type"] == "invalid_request_error"
    assert [(s["kind"], s["grantee"]) for s in left["data"]] == [("role", "admin")]
    assert role_removed.status_code == 204 and none_left == {"object": "list", "data": []}

    audited = records(gateway)
    shared = next(r for r in audited if r["route"] == POST_ROUTE and r["extra"]["grantee"] == bo)
    unshared = [r for r in audited if r["route"] == DELETE_ROUTE]
    assert [(r["outcome"], r.get("error_code")) for r in unshared] == [
        ("source_unshared", None),
        ("source_change_refused", "not_found"),
        ("source_unshared", None),
    ]
    assert shared["outcome"] == "source_shared"
    assert set(unshared[0]) == set(shared)  # the same fields as the share's record
    assert (
        unshared[0]["extra"]
        == shared["extra"]
        == {
            "source": source_id,
            "grantee_kind": "user",
            "grantee": bo,
        }
    )
    assert unshared[0]["user_id"] == shared["user_id"]
    assert unshared[1]["extra"] == shared["extra"]
    assert unshared[2]["extra"] == {"source": source_id, "grantee_kind": "role", "grantee": "admin"}
    assert gateway.verify().ok


def test_only_the_owner_sees_or_changes_the_shares(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    """A member the source is shared with by id gets the POST's 403 on GET and DELETE;
    a member it is not shared with gets the POST's 404; the shares stay as they were."""
    ana_key, _ = user_key(gateway, "ana@acme.test")
    bo_key, bo = user_key(gateway, "bo@acme.test")
    cy_key, cy = user_key(gateway, "cy@acme.test")
    with (
        client(gateway, ana_key) as ana,
        client(gateway, bo_key) as bo_http,
        client(gateway, cy_key) as cy_http,
    ):
        source_id = connect_sales(gateway, gateway_extra_settings, ana)
        assert share(ana, source_id, "user", bo).status_code == 204
        answers = {
            who: [
                share(http, source_id, "user", cy),
                http.get(f"/v1/sources/{source_id}/shares"),
                http.delete(f"/v1/sources/{source_id}/shares/user/{bo}"),
            ]
            for who, http in (("bo", bo_http), ("cy", cy_http))
        }
        kept = ana.get(f"/v1/sources/{source_id}/shares").json()["data"]
        bo_still = bo_http.post(f"/v1/sources/{source_id}/query", json=SQL)
    assert [error_code(r) for r in answers["bo"]] == [(403, "permission_denied")] * 3
    assert [error_code(r) for r in answers["cy"]] == [(404, "not_found")] * 3
    assert [(s["kind"], s["grantee"]) for s in kept] == [("user", bo)]
    assert bo_still.status_code == 200
    refused = [
        (r["user_id"], r.get("error_code")) for r in records(gateway) if r["route"] == DELETE_ROUTE
    ]
    assert refused == [(bo, "permission_denied"), (cy, "not_found")]
    outcomes = {r["outcome"] for r in records(gateway) if r["route"] == DELETE_ROUTE}
    assert outcomes == {"source_change_refused"}


def test_bad_requests_for_shares(
    gateway: Gateway, gateway_extra_settings: dict[str, object]
) -> None:
    """A kind other than user or role is the POST's 400; an unknown source or an unknown
    role share is a 404; a role without datasources.use is refused before anything."""
    ana_key, _ = user_key(gateway, "ana@acme.test")
    _, bo = user_key(gateway, "bo@acme.test")
    viewer_key, _ = user_key(gateway, "vi@acme.test", role="viewer")
    with client(gateway, ana_key) as ana, client(gateway, viewer_key) as viewer:
        source_id = connect_sales(gateway, gateway_extra_settings, ana)
        assert share(ana, source_id, "user", bo).status_code == 204
        bad_post = share(ana, source_id, "group", bo)
        bad_delete = ana.delete(f"/v1/sources/{source_id}/shares/group/{bo}")
        too_long = ana.delete(f"/v1/sources/{source_id}/shares/role/{'x' * 65}")
        no_source = ana.delete(f"/v1/sources/{'0' * 36}/shares/user/{bo}")
        no_source_list = ana.get(f"/v1/sources/{'0' * 36}/shares")
        no_role_share = ana.delete(f"/v1/sources/{source_id}/shares/role/member")
        viewer_list = viewer.get(f"/v1/sources/{source_id}/shares")
        viewer_delete = viewer.delete(f"/v1/sources/{source_id}/shares/user/{bo}")
        kept = ana.get(f"/v1/sources/{source_id}/shares").json()["data"]
    assert error_code(bad_post) == (400, "invalid_request")
    assert error_code(bad_delete) == (400, "invalid_request")
    assert error_code(too_long) == (400, "invalid_request")
    assert error_code(no_source) == (404, "not_found")
    assert error_code(no_source_list) == (404, "not_found")
    assert error_code(no_role_share) == (404, "not_found")
    assert error_code(viewer_list) == (403, "permission_denied")
    assert error_code(viewer_delete) == (403, "permission_denied")
    assert [(s["kind"], s["grantee"]) for s in kept] == [("user", bo)]
