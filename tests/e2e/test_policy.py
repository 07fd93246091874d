"""Tenant policies decide models, system-message handling and permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import openai
import pytest

from tests.e2e.conftest import Gateway

NARROW = """
models = ["gpt-test"]
client_system = "drop"
system_prompt = "You are Narrow Co's assistant."
"""


def test_policy_limits_models_and_drops_client_system(gateway: Gateway) -> None:
    """A narrow policy lists and serves only its model and drops client system text."""
    (gateway.policies_dir / "narrow.toml").write_text(NARROW)
    key = gateway.add_tenant("narrowco", "narrow")
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=key, max_retries=0)
    gateway.clients.append(client)
    assert [m.id for m in client.models.list()] == ["gpt-test"]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="claude-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "model_not_allowed"
    client.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "Answer only in French."},
            {"role": "user", "content": "hi"},
        ],
    )
    sent = gateway.upstream.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[0]["content"].startswith("You are Narrow Co's assistant.")
    assert all("French" not in m["content"] for m in sent)


def test_missing_policy_fails_closed(gateway: Gateway) -> None:
    """A tenant whose policy cannot be loaded is refused, not served unscanned."""
    key = gateway.add_tenant("lostco", "no-such-policy")
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=key, max_retries=0)
    gateway.clients.append(client)
    before = len(gateway.upstream.requests)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "policy_unavailable"
    assert len(gateway.upstream.requests) == before
    assert json.loads(gateway.audit_bodies()[-1])["outcome"] == "error"


def test_role_without_chat_permission_is_denied(gateway: Gateway) -> None:
    """An auditor's key may list models but not chat (deny by default)."""
    key = gateway.add_tenant("auditco", "default", role="auditor")
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=key, max_retries=0)
    gateway.clients.append(client)
    assert client.models.list().data
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "permission_denied"


def test_a_role_can_be_narrowed_to_some_models(gateway: Gateway) -> None:
    """`[access.roles.member] models = [...]`: a member may not call or even list a
    model outside the list, while an admin of the same tenant keeps the policy's."""
    (gateway.policies_dir / "narrow.toml").write_text(
        '[access.roles.member]\nmodels = ["claude-*"]\n'
    )
    member = gateway.add_tenant("narrowco", "narrow", role="member")
    now = datetime.now(UTC)
    admin = gateway.identity.create_key("narrowco", "boss@narrowco.test", now, role="admin")
    clients = [
        openai.OpenAI(base_url=gateway.openai_url, api_key=k, max_retries=0)
        for k in (member, admin.secret)
    ]
    gateway.clients.extend(clients)
    assert {m.id for m in clients[0].models.list().data} == {"claude-test"}
    assert {m.id for m in clients[1].models.list().data} == {"gpt-test", "claude-test"}
    with pytest.raises(openai.NotFoundError) as info:
        clients[0].chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "model_not_allowed"
    reply = clients[1].chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content
