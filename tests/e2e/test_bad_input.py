"""Bad input gets the right OpenAI-style error, and no partial audit record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.conftest import Gateway

GOOD = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def post(gw: Gateway, body: bytes, key: str | None = None, **headers: str) -> httpx.Response:
    hdrs = {"content-type": "application/json", **headers}
    if key is not None:
        hdrs["authorization"] = f"Bearer {key}"
    return httpx.post(gw.openai_url + "/chat/completions", content=body, headers=hdrs, timeout=30)


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        (b"{not json", 400, "invalid_request", None),
        (b"[1, 2]", 400, "invalid_request", None),
        (b"\xff\xfe\x00garbage", 400, "invalid_request", None),
        (json.dumps({**GOOD, "messages": "hi"}).encode(), 400, "invalid_request", "messages"),
        (json.dumps({**GOOD, "model": 7}).encode(), 400, "invalid_request", "model"),
        (
            json.dumps({**GOOD, "temperature": "hot"}).encode(),
            400,
            "invalid_request",
            "temperature",
        ),
        (json.dumps({**GOOD, "messages": []}).encode(), 400, "invalid_request", "messages"),
        (
            json.dumps(
                {"model": "gpt-test", "messages": [{"role": "wizard", "content": "x"}]}
            ).encode(),
            400,
            "invalid_request",
            "messages.0.role",
        ),
        (json.dumps({**GOOD, "model": "gpt-nope"}).encode(), 404, "model_not_allowed", "model"),
        (b"", 400, "invalid_request", None),
    ],
)
def test_bad_bodies(
    gateway: Gateway, body: bytes, status: int, code: str, param: str | None
) -> None:
    """Each malformed body gets its status and stable code, and one complete record."""
    before = gateway.audit_count()
    response = post(gateway, body, gateway.key)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["param"] == param
    assert set(error) == {"message", "type", "param", "code"}
    assert gateway.audit_count() == before + 1
    assert json.loads(gateway.audit_bodies()[-1])["outcome"] == "rejected"
    assert gateway.verify().ok


def test_oversized_body_is_refused(gateway: Gateway) -> None:
    """A body over the limit gets 413 payload_too_large, declared or chunked."""
    huge = json.dumps({**GOOD, "messages": [{"role": "user", "content": "x" * 2_000_000}]})
    response = post(gateway, huge.encode(), gateway.key)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    chunked = httpx.post(
        gateway.openai_url + "/chat/completions",
        content=chunks(),
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=30,
    )
    assert chunked.status_code == 413


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer bst_x"])
def test_missing_or_bad_key(gateway: Gateway, header: str | None) -> None:
    """Missing or wrong keys get 401 invalid_api_key and leave no record."""
    before = gateway.audit_count()
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["authorization"] = header
    response = httpx.post(
        gateway.openai_url + "/chat/completions", content=json.dumps(GOOD), headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert gateway.audit_count() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/incidents", {"playbook": "nope"}),
        ("POST", "/v1/sources", {"name": 7}),
        ("POST", "/v1/isolations/release", {"kind": "user", "ref": "x"}),
        ("DELETE", "/v1/sources/s1/shares/group/admin", None),  # no such kind
        ("POST", "/admin/keys", {"unknown": True}),
    ],
)
def test_a_caller_without_credentials_is_refused_before_the_body_is_judged(
    gateway: Gateway, method: str, path: str, body: object
) -> None:
    """401 for no key, token or session, whatever the body or path holds; with a key,
    the same request is the 400 that names the field."""
    anonymous = httpx.request(method, gateway.base_url + path, json=body, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "invalid_api_key"
    keyed = httpx.request(
        method,
        gateway.base_url + path,
        json=body,
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=30,
    )
    assert keyed.status_code == 400
    assert keyed.json()["error"]["code"] == "invalid_request"


def test_revoked_and_expired_keys(gateway: Gateway) -> None:
    """A revoked or expired key is refused (cache staleness is tested in test_auth_cache)."""
    body = json.dumps(GOOD).encode()
    assert post(gateway, body, gateway.key).status_code == 200
    now = datetime.now(UTC)
    revoked = gateway.identity.create_key("acme", "carol@acme.test", now)
    gateway.identity.revoke_key(revoked.prefix, now)
    response = post(gateway, body, revoked.secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"

    short = gateway.identity.create_key(
        "acme", "bob@acme.test", now - timedelta(hours=2), expires_at=now - timedelta(hours=1)
    )
    assert post(gateway, body, short.secret).status_code == 401


def test_unknown_route_and_method(gateway: Gateway) -> None:
    """Unknown routes and methods answer in the same JSON error shape."""
    assert httpx.get(gateway.openai_url + "/nope").json()["error"]["code"] == "not_found"
    response = httpx.get(gateway.openai_url + "/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_security_headers(gateway: Gateway) -> None:
    """Responses carry nosniff and no-store; plain HTTP carries no HSTS."""
    response = post(gateway, json.dumps(GOOD).encode(), gateway.key)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    "body",
    [
        # found by schemathesis: each used to crash the route with a 500
        {"messages": [{"role": "user", "content": [{"type": {}, "text": "x"}]}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [[None, None]]}
                    ],
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "f", "input": {"n": 2**70}}
                    ],
                }
            ]
        },
        {"messages": [{"role": "user", "content": "\ud800 lone surrogate"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]},
    ],
)
def test_malformed_anthropic_blocks(gateway: Gateway, body: dict[str, object]) -> None:
    """Odd content blocks get 400 invalid_request in Anthropic's shape, never a 500."""
    response = httpx.post(
        gateway.base_url + "/v1/messages",
        content=json.dumps({"model": "claude-test", "max_tokens": 10, **body}),
        headers={"x-api-key": gateway.key, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["code"] == "invalid_request"
