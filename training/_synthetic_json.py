"""Synthetic JSON text for training: tool definitions, tool calls and API payloads
(benign), and attacks wrapped in the same shapes (documented in
src/bastion/scanners/injection/data/PROVENANCE.md). Seeded, so every run is the same.
"""

from __future__ import annotations

import json
import random

__all__ = ["json_wrapped", "synthetic_tool_json"]


# -- JSON tool definitions, tool calls and API payloads (benign) ------------------------
# Tool definitions and JSON tool arguments are scanned with the indirect profile; their
# punctuation runs (`":{"`, `}}}]`) fire the gibberish features, so the model must see
# plenty of ordinary JSON. Shapes follow the OpenAI `tools` / `functions` arrays, the
# Anthropic `input_schema` and `tool_use` blocks, MCP `inputSchema` and typical REST
# payloads; names and descriptions are written here.
_TOOLS = (
    ("lookup", "Look up", (("q", "string", "Search query"),)),
    (
        "get_weather",
        "Get the current weather for a city.",
        (("city", "string", "City name, e.g. Paris"), ("unit", "enum:celsius|fahrenheit", "")),
    ),
    (
        "search_web",
        "Search the web and return the top results with titles and URLs.",
        (("query", "string", "The search query"), ("limit", "integer", "Maximum results")),
    ),
    (
        "send_email",
        "Send an email to a recipient on behalf of the user.",
        (
            ("to", "string", "Recipient address"),
            ("subject", "string", ""),
            ("body", "string", "Plain-text body"),
        ),
    ),
    (
        "create_ticket",
        "Create a support ticket in the helpdesk.",
        (
            ("title", "string", "Short summary"),
            ("priority", "enum:low|medium|high", "Ticket priority"),
            ("tags", "array", "Labels to attach"),
        ),
    ),
    (
        "read_file",
        "Read a file from the workspace and return its contents.",
        (("path", "string", "Relative path of the file"),),
    ),
    (
        "list_files",
        "List the files in a directory.",
        (("directory", "string", ""), ("recursive", "boolean", "Include subdirectories")),
    ),
    (
        "run_sql",
        "Run a read-only SQL query against the analytics database.",
        (("sql", "string", "A SELECT statement"), ("timeout_s", "number", "")),
    ),
    (
        "get_stock_price",
        "Return the latest price for a ticker symbol.",
        (("ticker", "string", "e.g. AAPL"),),
    ),
    (
        "book_flight",
        "Book a flight for the traveller.",
        (
            ("origin", "string", "IATA code"),
            ("destination", "string", "IATA code"),
            ("date", "string", "Departure date (YYYY-MM-DD)"),
            ("passengers", "integer", ""),
        ),
    ),
    (
        "calendar_create_event",
        "Create an event in the user's calendar.",
        (
            ("title", "string", ""),
            ("start", "string", "ISO 8601 start time"),
            ("attendees", "array", "Email addresses"),
        ),
    ),
    (
        "get_order_status",
        "Look up the status of a customer order by its ID.",
        (("order_id", "string", "The order number"),),
    ),
    (
        "translate_text",
        "Translate text into the target language.",
        (("text", "string", ""), ("target_language", "string", "ISO 639-1 code")),
    ),
    (
        "update_record",
        "Update fields of a CRM record. Ignore fields that are not provided.",
        (("record_id", "integer", ""), ("fields", "object", "Field names and new values")),
    ),
    (
        "fetch_url",
        "Fetch a web page and return its text content.",
        (("url", "string", "An http or https URL"), ("max_chars", "integer", "")),
    ),
    (
        "calculator",
        "Evaluate an arithmetic expression.",
        (("expression", "string", "e.g. 2 * (3 + 4)"),),
    ),
)
_ARG_VALUES = {
    "string": (
        "Paris",
        "quarterly revenue by region",
        "reports/q3/summary.md",
        "alice@example.com",
        "Printer on floor 3 is offline",
        "SELECT region, SUM(total) FROM orders GROUP BY region",
        "AAPL",
        "2024-06-14",
        "https://docs.example.com/api/v2/invoices",
        "Weekly sync",
        "Hello, the shipment left the warehouse this morning.",
        "ORD-10421",
        "de",
        "2 * (3 + 4)",
    ),
    "integer": (1, 3, 5, 10, 25, 100, 4417),
    "number": (0.5, 2.0, 30.0, 19.99),
    "boolean": (True, False),
}
_MESSAGES = (
    "What's the weather in Berlin tomorrow?",
    "Summarize the attached meeting notes in three bullet points.",
    "Find the status of order ORD-10421.",
    "Draft a reply to the vendor about the delayed invoice.",
    "How many tickets were opened last week?",
    "You are a helpful assistant.",
    "You are a support agent for Acme. Answer briefly and politely.",
)


def _schema(rng: random.Random, params: tuple[tuple[str, str, str], ...]) -> dict[str, object]:
    props: dict[str, object] = {}
    for name, kind, description in params:
        prop: dict[str, object]
        if kind.startswith("enum:"):
            prop = {"type": "string", "enum": kind[5:].split("|")}
        elif kind == "array":
            prop = {"type": "array", "items": {"type": "string"}}
        elif kind == "object":
            prop = {"type": "object", "additionalProperties": {"type": "string"}}
        else:
            prop = {"type": kind}
        if description and rng.randrange(3):
            prop["description"] = description
        props[name] = prop
    schema: dict[str, object] = {"type": "object", "properties": props}
    if rng.randrange(2):
        schema["required"] = [p[0] for p in params[: rng.randrange(1, len(params) + 1)]]
    if rng.randrange(4) == 0:
        schema["additionalProperties"] = False
    if rng.randrange(8) == 0:
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    return schema


def _value(rng: random.Random, kind: str) -> object:
    if kind.startswith("enum:"):
        return rng.choice(kind[5:].split("|"))
    if kind == "array":
        return rng.sample(("urgent", "billing", "eu", "vip", "bob@example.com"), 2)
    if kind == "object":
        return {"status": rng.choice(("open", "closed")), "owner": "j.doe"}
    return rng.choice(_ARG_VALUES[kind])


def _arguments(rng: random.Random, params: tuple[tuple[str, str, str], ...]) -> dict[str, object]:
    return {name: _value(rng, kind) for name, kind, _ in params if rng.randrange(4)}


def _tool_json(rng: random.Random) -> object:
    tools = rng.sample(_TOOLS, rng.randrange(1, 5))
    name, _, params = tools[0]
    call_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    kind = rng.randrange(9)
    if kind == 0:  # OpenAI `tools` array
        return [
            {
                "type": "function",
                "function": {"name": n, "description": d, "parameters": _schema(rng, p)},
            }
            for n, d, p in tools
        ]
    if kind == 1:  # Anthropic tools
        return [{"name": n, "description": d, "input_schema": _schema(rng, p)} for n, d, p in tools]
    if kind == 2:  # legacy `functions` / MCP tools/list
        key, schema_key = rng.choice((("functions", "parameters"), ("tools", "inputSchema")))
        return {
            key: [{"name": n, "description": d, schema_key: _schema(rng, p)} for n, d, p in tools]
        }
    if kind == 3:  # bare JSON arguments
        return _arguments(rng, params)
    if kind == 4:  # OpenAI tool call
        args = json.dumps(_arguments(rng, params))
        return {
            "id": "call_" + call_id,
            "type": "function",
            "function": {"name": name, "arguments": args},
        }
    if kind == 5:  # Anthropic tool_use block
        return {
            "type": "tool_use",
            "id": "toolu_" + call_id,
            "name": name,
            "input": _arguments(rng, params),
        }
    if kind == 6:  # a chat completions request
        messages: list[dict[str, str]] = []
        if rng.randrange(2):
            messages.append({"role": "system", "content": rng.choice(_MESSAGES[5:])})
        messages.append({"role": "user", "content": rng.choice(_MESSAGES[:5])})
        body: dict[str, object] = {
            "model": rng.choice(("gpt-4o", "claude-sonnet-4", "llama-3-70b")),
            "messages": messages,
            "temperature": rng.choice((0, 0.2, 0.7)),
        }
        if rng.randrange(2):
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": n, "description": d, "parameters": _schema(rng, p)},
                }
                for n, d, p in tools
            ]
            body["tool_choice"] = "auto"
        return body
    if kind == 7:  # a tool result
        result = {
            "ok": True,
            "result": _arguments(rng, params),
            "elapsed_ms": rng.randrange(3, 900),
        }
        return {
            "type": "tool_result",
            "tool_use_id": "toolu_" + call_id,
            "content": json.dumps(result),
        }
    # a paginated REST response
    rows = [
        {
            "id": rng.randrange(1, 99999),
            **_arguments(rng, params),
            "updated_at": "2024-05-03T12:44:07Z",
        }
        for _ in range(rng.randrange(1, 4))
    ]
    return {
        "data": rows,
        "meta": {"page": rng.randrange(1, 9), "per_page": 25, "total": rng.randrange(30, 900)},
    }


def _dump(rng: random.Random, value: object) -> str:
    style = rng.randrange(3)
    if style == 0:
        return json.dumps(value, separators=(",", ":"))
    if style == 1:
        return json.dumps(value)
    return json.dumps(value, indent=2)


def synthetic_tool_json(count: int, seed: int) -> list[str]:
    """``count`` benign JSON tool definitions, tool calls, arguments and API payloads,
    compact, spaced or indented."""
    rng = random.Random(seed)
    return [_dump(rng, _tool_json(rng)) for _ in range(count)]


def json_wrapped(injections: list[str], count: int, seed: int) -> list[str]:
    """``count`` injections carried in a JSON tool result, argument or field value (the
    same JSON shapes as :func:`synthetic_tool_json`, so JSON alone is no cue)."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        injection = rng.choice(injections)
        value = _tool_json(rng)
        field = rng.choice(("content", "description", "body", "notes", "text", "result"))
        kind = rng.randrange(3)
        if kind == 0:
            wrapped: object = {
                "type": "tool_result",
                "tool_use_id": "toolu_01",
                "content": injection,
            }
        elif kind == 1:
            wrapped = {field: injection, "source": "https://docs.example.com/page", "ok": True}
        else:
            wrapped = {"data": [value, {field: injection}]}
        out.append(_dump(rng, wrapped))
    return out
