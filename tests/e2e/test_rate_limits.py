"""Rate limits through a real gateway: the official clients see OpenAI's and
Anthropic's 429 with Retry-After, refused requests never reach the upstream and are
audited, and the gateway fails closed when the counters cannot be reached."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import Gateway

HELLO = [{"role": "user", "content": "hello"}]


def limit(gw: Gateway, table: str, policy: str = "default") -> None:
    """Write ``policy`` with this ``[rate_limits]`` table (every other option default)."""
    (gw.policies_dir / f"{policy}.toml").write_text(f"[rate_limits]\n{table}\n")


def records(gw: Gateway) -> list[dict[str, Any]]:
    return [json.loads(body) for body in gw.audit_bodies()]


def second_key(gw: Gateway, email: str) -> str:
    """Another user of tenant ``acme``, with a key of their own."""
    return gw.identity.create_key("acme", email, datetime.now(UTC), name="second").secret


def openai_for(gw: Gateway, key: str) -> openai.OpenAI:
    client = openai.OpenAI(base_url=gw.openai_url, api_key=key, max_retries=0)
    gw.clients.append(client)
    return client


def assert_openai_429(error: openai.RateLimitError, kind: str, limit_name: str) -> int:
    """OpenAI's 429: its error object, a Retry-After in whole seconds; returns it."""
    assert error.status_code == 429
    body = error.response.json()
    assert body == {
        "error": {
            "message": body["error"]["message"],
            "type": kind,
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert limit_name in body["error"]["message"]
    retry_after = int(error.response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def test_requests_per_key(gateway: Gateway) -> None:
    """3/minute: three calls answered, the fourth is OpenAI's 429 with Retry-After; it
    never reaches the upstream, and its audit record says rate_limited."""
    limit(gateway, 'requests_per_key = "3/minute"')
    client = gateway.openai()
    for _ in range(3):
        reply = client.chat.completions.create(model="gpt-test", messages=HELLO)
        assert reply.choices[0].message.content
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-test", messages=HELLO)
    assert assert_openai_429(refused.value, "requests", "requests per key") <= 60
    assert len(gateway.upstream.requests) == 3
    record = records(gateway)[-1]
    assert (record["outcome"], record["error_code"]) == ("rate_limited", "rate_limit_exceeded")
    assert record["prompt"] == HELLO
    assert gateway.key not in json.dumps(refused.value.response.json())
    assert gateway.verify().ok


def test_streaming_is_refused_before_the_stream(gateway: Gateway) -> None:
    """A streamed call over the limit is a plain 429 before any event is sent."""
    limit(gateway, 'requests_per_key = "2/minute"')
    client = gateway.openai()
    for _ in range(2):
        chunks = client.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
    assert_openai_429(refused.value, "requests", "requests per key")
    assert len(gateway.upstream.requests) == 2
    assert records(gateway)[-1]["outcome"] == "rate_limited"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_route(gateway: Gateway, stream: bool) -> None:
    """The Messages route counts the same and answers Anthropic's rate_limit_error."""
    limit(gateway, 'requests_per_key = "1/minute"')
    client = gateway.anthropic()
    client.messages.create(model="claude-test", max_tokens=64, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(
            model="claude-test",
            max_tokens=64,
            messages=HELLO,
            stream=stream,
        )
    assert refused.value.status_code == 429
    body = refused.value.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error"
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert "requests per key" in body["error"]["message"]
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert len(gateway.upstream.requests) == 1
    assert records(gateway)[-1]["outcome"] == "rate_limited"


def test_tenant_limit_is_shared_by_its_users_only(gateway: Gateway) -> None:
    """requests_per_tenant counts Alice and Bob together; another tenant under the same
    policy has a budget of its own."""
    limit(gateway, 'requests_per_tenant = "3/minute"')
    alice, bob = gateway.openai(), openai_for(gateway, second_key(gateway, "bob@acme.test"))
    alice.chat.completions.create(model="gpt-test", messages=HELLO)
    bob.chat.completions.create(model="gpt-test", messages=HELLO)
    alice.chat.completions.create(model="gpt-test", messages=HELLO)
    for caller in (bob, alice):
        with pytest.raises(openai.RateLimitError) as refused:
            caller.chat.completions.create(model="gpt-test", messages=HELLO)
        assert_openai_429(refused.value, "requests", "requests per tenant")
    other = openai_for(gateway, gateway.add_tenant("globex", "default"))
    for _ in range(3):
        other.chat.completions.create(model="gpt-test", messages=HELLO)
    assert len(gateway.upstream.requests) == 6


def test_user_limit_spans_keys(gateway: Gateway) -> None:
    """requests_per_user counts a user's requests whichever of their keys is used."""
    limit(gateway, 'requests_per_user = "2/minute"')
    first = gateway.openai()
    second = openai_for(gateway, second_key(gateway, "alice@acme.test"))
    first.chat.completions.create(model="gpt-test", messages=HELLO)
    second.chat.completions.create(model="gpt-test", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as refused:
        first.chat.completions.create(model="gpt-test", messages=HELLO)
    assert_openai_429(refused.value, "requests", "requests per user")


BIG = "ECHO:" + "many words here " * 250  # about 1,000 tokens each way


@pytest.mark.parametrize("stream", [False, True])
def test_a_big_answer_spends_the_token_budget(gateway: Gateway, stream: bool) -> None:
    """Small calls fit in tokens_per_user; a big answer is charged after it is sent
    (streamed without usage: estimated), and the next call is a 429 of type tokens."""
    limit(gateway, 'tokens_per_user = "1500/hour"')
    client = gateway.openai()
    for _ in range(2):
        client.chat.completions.create(model="gpt-test", messages=HELLO)
    big = [{"role": "user", "content": BIG}]
    if stream:
        chunks = client.chat.completions.create(model="gpt-test", messages=big, stream=True)
        assert len("".join(c.choices[0].delta.content or "" for c in chunks if c.choices)) > 3000
    else:
        reply = client.chat.completions.create(model="gpt-test", messages=big)
        assert reply.usage is not None and reply.usage.total_tokens > 1500
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-test", messages=HELLO)
    assert 1 <= assert_openai_429(refused.value, "tokens", "tokens per user") <= 3600
    assert len(gateway.upstream.requests) == 3
    assert records(gateway)[-1]["outcome"] == "rate_limited"


def test_an_invalid_limit_fails_closed(gateway: Gateway) -> None:
    """A policy with a bad rate limit is an invalid policy: nothing is served under it."""
    limit(gateway, 'requests_per_user = "sixty a minute"')
    with pytest.raises(openai.InternalServerError) as refused:
        gateway.openai().chat.completions.create(model="gpt-test", messages=HELLO)
    assert refused.value.response.json()["error"]["code"] == "policy_unavailable"
    assert "sixty" not in refused.value.response.text
    assert gateway.upstream.requests == []


@pytest.mark.parametrize(
    "gateway_extra_settings", [{"rate_limit_storage": "redis://127.0.0.1:1/0"}]
)
def test_unreachable_storage_fails_closed(gateway: Gateway) -> None:
    """Redis down: a policy with limits refuses with 503 rate_limit_unavailable (audited,
    nothing sent upstream); a policy without limits never asks Redis and is served."""
    limit(gateway, 'requests_per_key = "100/minute"')
    limit(gateway, "", policy="open")
    response = httpx.post(
        gateway.openai_url + "/chat/completions",
        headers={"authorization": f"Bearer {gateway.key}"},
        json={"model": "gpt-test", "messages": HELLO},
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit_unavailable", "api_error")
    assert "retry-after" not in response.headers
    assert gateway.upstream.requests == []
    record = records(gateway)[-1]
    assert (record["outcome"], record["error_code"]) == ("error", "rate_limit_unavailable")
    free = openai_for(gateway, gateway.add_tenant("free", "open"))
    assert free.chat.completions.create(model="gpt-test", messages=HELLO).choices


def test_a_client_that_hangs_up_mid_stream_is_still_charged(gateway: Gateway) -> None:
    """Hanging up before the stream's end (and its usage) does not dodge the token
    limit: the call is charged an estimate, and the next one is refused."""
    limit(gateway, 'tokens_per_user = "1500/hour"')
    gateway.hang_up_mid_stream("All quiet on the network today. " * 400)  # ~3,200 tokens
    assert records(gateway)[-1]["outcome"] == "client_disconnected"
    with pytest.raises(openai.RateLimitError) as refused:
        gateway.openai().chat.completions.create(model="gpt-test", messages=HELLO)
    assert_openai_429(refused.value, "tokens", "tokens per user")
