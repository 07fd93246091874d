"""Every admin route against every role, over HTTP: a role gets 403 exactly when the
permission table in docs/permissions.md does not grant the route's permission; and
the documented route table is the code's."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bastion.authz import ROLES
from bastion.gateway.admin import ADMIN_ROUTES
from bastion.identity.directory import Directory
from bastion.sessions import SessionPolicy, SessionStore
from tests.e2e.conftest import Gateway
from tests.test_authz import doc_table

DOC = Path(__file__).parents[2] / "docs" / "permissions.md"


def documented_routes() -> set[tuple[str, str, str]]:
    pattern = r"^\| `(GET|POST|PUT|PATCH|DELETE) (/admin\S*)` \| ([^|]+?) \|"
    rows = re.findall(pattern, DOC.read_text(), re.M)
    return {(m, p, perm.strip("`")) for m, p, perm in rows}


def test_the_documented_route_table_is_the_code_table() -> None:
    code = {(r.method, r.path, r.permission or "(signed in)") for r in ADMIN_ROUTES}
    assert documented_routes() == code


def request_for(
    route_path: str, method: str, ids: dict[str, str], counter: itertools.count[int]
) -> tuple[str, dict[str, Any] | None]:
    path = route_path.format(**ids)
    body: dict[str, Any] | None = None
    if (method, route_path) == ("POST", "/admin/users"):
        body = {"email": f"new{next(counter)}@acme.test", "role": "member"}
    elif (method, route_path) == ("PATCH", "/admin/users/{user_id}"):
        body = {"disabled": False}
    elif (method, route_path) == ("POST", "/admin/keys"):
        body = {"name": "table test"}
    elif (method, route_path) == ("PUT", "/admin/policy"):
        body = {"toml": 'input = ["prompt_size"]\n'}
    elif (method, route_path) == ("PATCH", "/admin/tenant"):
        body = {"name": "acme"}
    elif (method, route_path) == ("PUT", "/admin/tenant/policy"):
        body = {"policy": "default"}
    return path, body


def test_every_route_against_every_role(gateway: Gateway) -> None:
    """Each role calls each route on its own resources (its own key and session, a
    member to update): 403 exactly when the role lacks the documented permission."""
    _, grants, _ = doc_table()
    now = datetime.now(UTC)
    tenant_id = gateway.identity.tenant_id("acme")
    directory = Directory(gateway.engine)
    sessions = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    target = directory.add_user(tenant_id, "target@acme.test", "member", now)
    counter = itertools.count()
    failures = []
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        for role in ROLES:
            issued = gateway.identity.create_key("acme", f"{role}@acme.test", now, role=role)
            user_id = next(u.id for u in directory.users(tenant_id) if u.email == issued.user_email)
            for route in ADMIN_ROUTES:
                own_key = directory.create_key(tenant_id, user_id, now, name="to revoke")
                own_session = sessions.create(tenant_id, user_id, "oidc", now, SessionPolicy())
                ids = {"user_id": target.id, "key_id": own_key.id, "session_id": own_session.id}
                path, body = request_for(route.path, route.method, ids, counter)
                response = http.request(
                    route.method,
                    path,
                    json=body,
                    headers={"authorization": f"Bearer {issued.secret}"},
                )
                granted = route.permission is None or route.permission in grants[role]
                denied = response.status_code == 403
                if granted == denied or response.status_code >= 500:
                    failures.append((role, route.method, route.path, response.status_code))
                if denied:
                    error = response.json()["error"]
                    assert error["code"] == "permission_denied", error
    assert failures == []


def test_unauthenticated_calls_are_refused_in_openai_format(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        for route in ADMIN_ROUTES:
            path = route.path.format(user_id="u", key_id="k", session_id="s")
            response = http.request(route.method, path)
            assert response.status_code == 401, (route.method, route.path)
            assert response.json()["error"]["code"] == "invalid_api_key"


def test_the_admin_api_is_in_the_openapi_document(gateway: Gateway) -> None:
    document = httpx.get(gateway.base_url + "/openapi.json", timeout=30).json()
    for route in ADMIN_ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["summary"] == route.summary
        if route.permission:
            assert route.permission in operation["description"]
