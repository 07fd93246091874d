"""Nothing secret reaches a log line, and a failed audit write fails the request."""

from __future__ import annotations

import logging

import httpx
import openai
import pytest
from sqlalchemy import text

from tests.e2e.conftest import Gateway

SECRET = "AKIAZ7Q3ZJ4XKD2PLM5T"
PROMPT_MARK = "zebra-quartz-prompt-marker"


def test_no_prompt_secret_or_key_in_logs(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Blocked, failed and malformed requests log identifiers only."""
    caplog.set_level(logging.DEBUG)
    client = gateway.openai()
    for content in (f"{PROMPT_MARK} {SECRET}", f"FAIL:500 {PROMPT_MARK}", "system prompt?"):
        with pytest.raises(openai.APIError):
            client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": content}]
            )
    httpx.post(
        gateway.openai_url + "/chat/completions",
        content=f'{{"model": "gpt-test", "messages": "{PROMPT_MARK}"'.encode(),
        headers={"authorization": f"Bearer {gateway.key}"},
    )
    httpx.post(
        gateway.openai_url + "/chat/completions",
        json={"model": "gpt-test", "messages": []},
        headers={"authorization": f"Bearer {gateway.key}x"},
    )
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for needle in (PROMPT_MARK, SECRET, gateway.key, gateway.key.split("_", 2)[2], "bst-c-"):
        assert needle not in logged


def test_audit_failure_fails_closed(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    """If the record cannot be written, the client gets audit_unavailable, not the answer."""
    with gateway.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_records"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(openai.APIStatusError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": PROMPT_MARK}]
        )
    assert info.value.status_code == 503
    assert info.value.code == "audit_unavailable"
    assert PROMPT_MARK not in str(info.value.body)
    assert any("audit" in r.getMessage() for r in caplog.records)
    assert all(PROMPT_MARK not in r.getMessage() for r in caplog.records)


def test_audit_failure_mid_stream_ends_with_error(gateway: Gateway) -> None:
    """A stream whose record cannot be written ends with an error event, not [DONE]."""
    with gateway.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_records"))
    response = httpx.post(
        gateway.openai_url + "/chat/completions",
        json={
            "model": "gpt-test",
            "stream": True,
            "messages": [{"role": "user", "content": "hello"}],
        },
        headers={"authorization": f"Bearer {gateway.key}"},
    )
    assert "audit_unavailable" in response.text
    assert "[DONE]" not in response.text
