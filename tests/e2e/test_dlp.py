"""DLP through the gateway: personal data reaches the model as placeholders and comes
back restored for its sender only; the model's own cards reach the user masked."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime

import openai
import pytest
from sqlalchemy import insert, select, update

from bastion.store.schema import DataKey, PseudonymVaultRow, Tenant
from tests.dlp.test_names import _installed_model
from tests.e2e.conftest import Gateway

EMAIL = "ana.marker@corp.example"
CARD = "4111 1111 1111 1111"
MASKED_CARD = "**** **** **** 1111"


def client_for(gateway: Gateway, policy: str | None = None) -> openai.OpenAI:
    name = f"t{len(gateway.clients)}"
    if policy is not None:
        (gateway.policies_dir / f"{name}.toml").write_text(policy)
    key = gateway.add_tenant(name, name if policy is not None else "default")
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=key, max_retries=0)
    gateway.clients.append(client)
    return client


def ask(client: openai.OpenAI, text: str, *, stream: bool = False) -> str:
    messages = [{"role": "user", "content": text}]
    if not stream:
        reply = client.chat.completions.create(model="gpt-test", messages=messages)  # type: ignore[arg-type]
        return reply.choices[0].message.content or ""
    chunks = client.chat.completions.create(model="gpt-test", messages=messages, stream=True)  # type: ignore[arg-type]
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_personal_data_goes_out_as_placeholders_and_comes_back(
    gateway: Gateway, stream: bool
) -> None:
    """The upstream sees <EMAIL_1> and <CARD_1>; the caller's answer has the originals,
    streamed in 3-character chunks that cut the placeholders."""
    client = client_for(gateway)
    reply = ask(client, f"Email {EMAIL} about card {CARD}.", stream=stream)
    assert reply == f"Happy to help. You said: Email {EMAIL} about card {CARD}."
    sent = json.dumps(gateway.upstream.requests[-1].body)
    assert EMAIL not in sent and "4111" not in sent
    assert "<EMAIL_1>" in sent and "<CARD_1>" in sent
    record = json.loads(gateway.audit_bodies()[-1])
    found = {f["type"] for v in record["verdicts"] for f in v.get("findings", [])}
    assert {"pii:EMAIL_ADDRESS", "pii:CREDIT_CARD"} <= found
    assert gateway.verify().ok


def test_addresses_and_national_ids_go_out_as_placeholders(gateway: Gateway) -> None:
    """A street address and checksummed national identifiers reach the model as
    <ADDRESS_1>, <BSN_1>, <NIE_1> and come back restored for the caller."""
    text = "Ship to 221B Baker Street, London NW1 6XE; BSN 111222333, NIE X2482300W."
    reply = ask(client_for(gateway), text)
    assert reply == f"Happy to help. You said: {text}"
    sent = json.dumps(gateway.upstream.requests[-1].body)
    assert "Baker" not in sent and "111222333" not in sent and "X2482300W" not in sent
    assert all(p in sent for p in ("<ADDRESS_1>", "<BSN_1>", "<NIE_1>"))


@pytest.mark.parametrize("stream", [False, True])
def test_a_card_the_model_produces_reaches_the_user_masked(gateway: Gateway, stream: bool) -> None:
    """A card number that did not come from the caller (here smuggled past input
    scanning in base64) is masked in the answer, also when split across chunks."""
    client = client_for(gateway)
    encoded = base64.b64encode(f"Your card is {CARD}.".encode()).decode()
    reply = ask(client, "B64:" + encoded, stream=stream)
    assert reply == f"Your card is {MASKED_CARD}."


def test_placeholders_are_restored_only_from_the_request_that_made_them(
    gateway: Gateway,
) -> None:
    """A placeholder the caller did not cause (another request's, or the model's
    invention) stays a placeholder."""
    client = client_for(gateway)
    assert ask(client, f"Email {EMAIL}").endswith(EMAIL)
    assert ask(client_for(gateway), "ECHO:Sure: <EMAIL_1>") == "Sure: <EMAIL_1>"


def test_a_tenant_policy_can_block_an_entity_type(gateway: Gateway) -> None:
    """`[scanners.pii.entities.US_SSN] to_model = "block"`: the request is refused with
    reason pii_blocked and nothing reaches the upstream; the error carries no value."""
    policy = '[scanners.pii.entities.US_SSN]\nto_model = "block"\n'
    client = client_for(gateway, policy)
    before = len(gateway.upstream.requests)
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, "my SSN is 536-22-8107")
    assert info.value.code == "request_blocked"
    assert "pii_blocked" in str(info.value.body)
    assert "536-22" not in str(info.value.body)
    assert len(gateway.upstream.requests) == before


def test_a_bad_pii_policy_is_a_clear_error(gateway: Gateway) -> None:
    """An unknown action in the policy makes the tenant's policy unavailable (the
    request fails closed) rather than silently allowing."""
    client = client_for(gateway, '[scanners.pii.to_model]\nconfidential = "shred"\n')
    with pytest.raises(openai.APIStatusError) as info:
        ask(client, f"Email {EMAIL}")
    assert EMAIL not in str(info.value.body)
    assert len([r for r in gateway.upstream.requests if EMAIL in json.dumps(r.body)]) == 0


def converse(client: openai.OpenAI, conversation: str, text: str) -> str:
    reply = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": text}],
        extra_headers={"X-Bastion-Conversation": conversation},
    )
    return reply.choices[0].message.content or ""


def test_a_conversation_keeps_its_placeholders_for_its_caller(gateway: Gateway) -> None:
    """With X-Bastion-Conversation, a value keeps its placeholder across turns and a
    later answer that only names the placeholder is restored; the same conversation
    id from another caller restores nothing. The vault holds the value sealed."""
    client = client_for(gateway)
    assert converse(client, "conv-1", f"Email {EMAIL}").endswith(EMAIL)
    other = "bo.marker@corp.example"
    converse(client, "conv-1", f"And {other}")
    sent = json.dumps(gateway.upstream.requests[-1].body)
    assert "<EMAIL_2>" in sent and other not in sent  # numbering continued
    assert converse(client, "conv-1", "ECHO:Done: <EMAIL_1>") == f"Done: {EMAIL}"
    assert converse(client, "conv-2", "ECHO:Done: <EMAIL_1>") == "Done: <EMAIL_1>"
    stranger = client_for(gateway)
    assert converse(stranger, "conv-1", "ECHO:Done: <EMAIL_1>") == "Done: <EMAIL_1>"
    with gateway.engine.connect() as conn:
        blobs = [bytes(r[0]) for r in conn.exec_driver_sql("SELECT sealed FROM pseudonym_vaults")]
    assert blobs and all(EMAIL.encode() not in blob for blob in blobs)


def test_a_bad_conversation_id_is_a_clear_error(gateway: Gateway) -> None:
    client = client_for(gateway)
    with pytest.raises(openai.BadRequestError) as info:
        converse(client, "no spaces allowed", "hi")
    assert info.value.code == "invalid_request"
    assert "X-Bastion-Conversation" in str(info.value.body)


def test_tool_round_trips_with_personal_data_are_not_blocked(gateway: Gateway) -> None:
    """An earlier assistant tool call carrying an email (restored for the client) comes
    back in the history: its arguments reach the model pseudonymized, still valid JSON;
    a tool whose description names a support address is not refused either."""
    client = client_for(gateway)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "send_email",
                "description": "Send an email; questions go to help@acme.example.",
                "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "user", "content": "Mail Ana please"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "send_email", "arguments": json.dumps({"to": EMAIL})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sent"},
    ]
    reply = client.chat.completions.create(model="gpt-test", messages=messages, tools=tools)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    body = gateway.upstream.requests[-1].body
    arguments = body["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"to": "<EMAIL_1>"}
    assert "help@acme.example" in json.dumps(body["tools"])


def test_hashed_values_are_stable_within_a_tenant_and_differ_across_tenants(
    gateway: Gateway,
) -> None:
    """`to_model = "hash"`: the upstream sees a keyed token instead of the SSN, the same
    token for the same value within the tenant (so the model can still tell two people
    apart), another tenant's token for it differs, and neither holds the value."""
    policy = '[scanners.pii.entities.US_SSN]\nto_model = "hash"\n'
    ssn, other_ssn = "536-22-8107", "536-22-8108"

    def token_sent(client: openai.OpenAI, value: str) -> str:
        ask(client, f"check SSN {value} please")
        sent = json.dumps(gateway.upstream.requests[-1].body)
        assert value not in sent and "536-22" not in sent
        start = sent.index("<US_SSN:")
        return sent[start : sent.index(">", start) + 1]

    first, second = client_for(gateway, policy), client_for(gateway, policy)
    token = token_sent(first, ssn)
    assert len(token) == len("<US_SSN:>") + 16
    assert token_sent(first, ssn) == token
    assert token_sent(first, other_ssn) != token
    assert token_sent(second, ssn) != token
    with gateway.engine.connect() as conn:
        purposes = {r[0] for r in conn.exec_driver_sql("SELECT purpose FROM data_keys")}
    assert "dlp_hash" in purposes


def test_cloud_identifiers_pass_untouched_and_are_audited(gateway: Gateway) -> None:
    """An ARN is not a secret: the prompt reaches the model as written, and the audit
    record names the identifier (type and span, no value) under reason
    resource_identifier."""
    arn = "arn:aws:iam::210987654321:role/deploy-Qx7Tz"
    client = client_for(gateway)
    reply = ask(client, f"Why can't {arn} assume the role?")
    assert arn in reply
    assert arn in json.dumps(gateway.upstream.requests[-1].body)
    record = json.loads(gateway.audit_bodies()[-1])
    recorded = [v for v in record["verdicts"] if v["reason"] == "resource_identifier"]
    assert recorded and recorded[0]["decision"] == "allow"
    assert recorded[0]["findings"][0]["type"] == "aws_arn"
    assert "210987654321" not in gateway.audit_bodies()[-1].split('"verdicts"')[1]


def test_a_vault_or_hash_key_that_will_not_open_refuses_the_request(gateway: Gateway) -> None:
    """Fail closed: a conversation vault whose blob was tampered with, or a tenant hash
    key that will not unwrap, answers vault_unavailable (503) before anything reaches
    the model; the refusal is audited and the chain still verifies."""
    client = client_for(gateway)
    converse(client, "conv-x", f"Email {EMAIL}")
    with gateway.engine.begin() as conn:
        conn.execute(update(PseudonymVaultRow).values(sealed=b"\x01" + b"\x00" * 60))
    hasher = client_for(gateway, '[scanners.pii.entities.US_SSN]\nto_model = "hash"\n')
    with gateway.engine.begin() as conn:
        name = f"t{len(gateway.clients) - 1}"
        tenant_id = conn.execute(select(Tenant.id).where(Tenant.name == name)).scalar_one()
        conn.execute(
            insert(DataKey).values(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                purpose="dlp_hash",
                version=1,
                kek_id="local",
                wrapped=b"\x00" * 60,
                created_at=datetime.now(UTC),
            )
        )
    before = len(gateway.upstream.requests)
    for attempt in (
        lambda: converse(client, "conv-x", "and again"),
        lambda: ask(hasher, "check SSN 536-22-8107"),
    ):
        with pytest.raises(openai.APIStatusError) as info:
            attempt()
        assert info.value.status_code == 503
        assert info.value.code == "vault_unavailable"
        assert EMAIL not in str(info.value.body) and "536-22" not in str(info.value.body)
    assert len(gateway.upstream.requests) == before
    outcomes = [json.loads(body)["outcome"] for body in gateway.audit_bodies()[-2:]]
    assert outcomes == ["error", "error"]
    assert gateway.verify().ok


def test_a_policy_with_names_pseudonymizes_people(gateway: Gateway) -> None:
    """`[scanners.pii] names = true` (the ner extra, installed by the dev lock): a
    person's name reaches the model as <PERSON_1> and comes back for the caller."""
    if _installed_model() is None:
        reason = "spaCy with an English model is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true installs requirements/dev.lock, which has them")
        pytest.skip(reason)
    client = client_for(gateway, "[scanners.pii]\nnames = true\n")
    text = "Draft a thank-you note to Maria Gonzalez for the review."
    assert ask(client, text) == f"Happy to help. You said: {text}"
    sent = json.dumps(gateway.upstream.requests[-1].body)
    assert "Gonzalez" not in sent and "<PERSON_1>" in sent
