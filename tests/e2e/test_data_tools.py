"""The assistant's tools on /v1/chat/completions, through the official openai client,
when the tenant's policy sets ``data_tools = true``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.test_assistant import client, orders_db
from tests.e2e.test_sources_api import CONFIG, user_key


@pytest.fixture
def gateway_extra_settings(tmp_path: Path) -> dict[str, object]:
    sources = tmp_path / "sources"
    sources.mkdir()
    return {"data_sources_sqlite_dir": sources}


@pytest.fixture
def ana(gateway: Gateway, gateway_extra_settings: dict[str, object]) -> openai.OpenAI:
    key, ana_id = user_key(gateway, "ana@acme.test")
    _, bo_id = user_key(gateway, "bo@acme.test")
    directory = Path(str(gateway_extra_settings["data_sources_sqlite_dir"]))
    url = orders_db(directory, [(1, ana_id, 10, "a@x.test"), (2, bo_id, 77, "b@x.test")])
    with client(gateway, key) as http:
        made = http.post(
            "/v1/sources", json={"name": "sales", "kind": "sqlite", "url": url, "config": CONFIG}
        )
        assert made.status_code == 201, made.text
    return openai.OpenAI(base_url=gateway.openai_url, api_key=key, max_retries=0)


QUESTION = 'TOOL:run_query:{"source": "sales", "sql": "SELECT owner, amount FROM orders"}'


def enable(gateway: Gateway, on: bool) -> None:
    (gateway.policies_dir / "default.toml").write_text(f"data_tools = {str(on).lower()}\n")


def test_enabled_the_gateway_runs_the_tools_as_the_caller(
    gateway: Gateway, ana: openai.OpenAI
) -> None:
    enable(gateway, True)
    completion = ana.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": QUESTION}]
    )
    message = completion.choices[0].message
    assert message.tool_calls is None and message.content is not None
    rows = json.loads(message.content.removeprefix("Tool said: "))["rows"]
    assert [amount for _, amount in rows] == [10]  # bo's 77 never reaches the model
    extra: dict[str, Any] = completion.model_extra or {}
    [query] = extra["bastion"]["queries"]
    assert query["status"] == "ran" and query["row_count"] == 1 and "LIMIT" in query["sql"]
    streamed = ana.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert text == message.content
    records = [json.loads(b) for b in gateway.audit_bodies()]
    chats = [r for r in records if r["route"] == "/v1/chat/completions"]
    assert [r["data_sources"][0]["rows"] for r in chats] == [1, 1]


def test_disabled_or_with_client_tools_the_tool_call_goes_back_to_the_client(
    gateway: Gateway, ana: openai.OpenAI
) -> None:
    enable(gateway, False)
    plain = ana.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": QUESTION}]
    )
    assert plain.choices[0].message.tool_calls is not None
    assert "bastion" not in (plain.model_extra or {})
    enable(gateway, True)
    own_tool = {
        "type": "function",
        "function": {"name": "run_query", "parameters": {"type": "object", "properties": {}}},
    }
    passed = ana.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": QUESTION}],
        tools=[own_tool],  # type: ignore[list-item]
    )
    calls = passed.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "run_query"
