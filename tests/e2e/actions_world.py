"""The world the action tests act on: a PostgreSQL helpdesk and shop, a local SMTP
relay (aiosmtpd), a loopback webhook receiver, and users with their keys.

The gateway's own database is SQLite or PostgreSQL (the ``gateway`` fixture); the
tickets and orders the actions write live in PostgreSQL's ``test`` database, in tables
with a per-test suffix, dropped afterwards.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.e2e.conftest import Gateway
from tests.e2e.test_sources_api import user_key

PG_DATA_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/test"


class Mailbox:
    """An aiosmtpd handler keeping every envelope it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content
        body = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        self.messages.append((list(envelope.rcpt_tos), body))
        return "250 OK"


class Hooks:
    """A loopback HTTP receiver recording each POST's path and JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(min(length, 1 << 20))
                hooks.received.append((self.path, json.loads(raw or b"{}")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]


@dataclass
class World:
    gateway: Gateway
    data: Engine  # the PostgreSQL database the actions write to
    tickets: str
    orders: str
    mailbox: Mailbox
    hooks: Hooks
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (key, user id)

    def http(self, who: str) -> httpx.Client:
        key = self.keys[who][0]
        return httpx.Client(
            base_url=self.gateway.base_url,
            headers={"authorization": f"Bearer {key}"},
            timeout=60,
        )

    def ask(self, who: str, message: str, **extra: Any) -> dict[str, Any]:
        with self.http(who) as http:
            reply = http.post(
                "/v1/assistant/chat", json={"model": "gpt-test", "message": message, **extra}
            )
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def propose(self, who: str, tool: str, arguments: str, **extra: Any) -> dict[str, Any]:
        """The model (told to) propose one call; the proposal as the reply shows it."""
        body = self.ask(who, f"TOOL:{tool}:{arguments}", **extra)
        [proposed] = body["actions"]
        return dict(proposed)

    def ticket_rows(self) -> list[tuple[Any, ...]]:
        with self.data.connect() as conn:
            query = f"SELECT title, body, priority, requested_by FROM {self.tickets} ORDER BY id"  # noqa: S608
            return [tuple(r) for r in conn.execute(text(query))]

    def audit(self, route_prefix: str = "") -> list[dict[str, Any]]:
        records = [json.loads(b) for b in self.gateway.audit_bodies()]
        return [r for r in records if r["route"].startswith(route_prefix)]


def policy(world_tickets: str, hooks_port: int) -> str:
    return f"""
data_tools = true

[actions]
enabled = ["get_ticket", "create_ticket", "update_record", "send_email", "call_webhook"]
notify_url = "http://127.0.0.1:{hooks_port}/approvals"

[actions.get_ticket]
source = "helpdesk"
table = "{world_tickets}"

[actions.create_ticket]
source = "helpdesk"
table = "{world_tickets}"

[actions.send_email]
allowed_domains = ["acme.example", "*.partner.example"]

[actions.call_webhook]
targets = {{ ops = "http://127.0.0.1:{hooks_port}/ops" }}
"""


def make_world(gateway: Gateway, smtp_port: int, hooks: Hooks) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:10]
    tickets, orders = f"tickets_{suffix}", f"orders_{suffix}"
    data = create_engine(PG_DATA_URL)
    with data.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {tickets} (id serial PRIMARY KEY, title text, body text, "
                "priority text, status text DEFAULT 'open', requested_by text, "
                "created_at timestamptz)"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {orders} (id integer PRIMARY KEY, owner text, "
                "status text, amount integer)"
            )
        )
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    hooks.thread.start()
    (gateway.policies_dir / "default.toml").write_text(policy(tickets, hooks.port))
    world = World(gateway, data, tickets, orders, mailbox, hooks)
    for name, role in (
        ("ana", "member"),
        ("bo", "member"),
        ("val", "approver"),
        ("vic", "approver"),
        ("olga", "owner"),  # may both ask (datasources.use) and approve
    ):
        world.keys[name] = user_key(gateway, f"{name}@acme.test", role=role)
    ana, bo = world.keys["ana"][1], world.keys["bo"][1]
    with data.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {orders} VALUES (1, :ana, 'open', 10), (2, :bo, 'open', 20)"),  # noqa: S608
            {"ana": ana, "bo": bo},
        )
    helpdesk: dict[str, Any] = {"tables": {tickets: {}}}
    shop = {
        "tables": {
            orders: {
                "columns": ["id", "owner", "status", "amount"],
                "row_filter": "owner = :user_id",
                "writable": ["status"],
                "key": "id",
            }
        }
    }
    with world.http("ana") as http:
        for name, config in (("helpdesk", helpdesk), ("shop", shop)):
            made = http.post(
                "/v1/sources",
                json={"name": name, "kind": "postgres", "url": PG_DATA_URL, "config": config},
            )
            assert made.status_code == 201, made.text
            shared = http.post(
                f"/v1/sources/{made.json()['id']}/shares",
                json={"kind": "role", "grantee": "member"},
            )
            assert shared.status_code in (200, 204), shared.text
            shared = http.post(
                f"/v1/sources/{made.json()['id']}/shares",
                json={"kind": "role", "grantee": "approver"},
            )
            assert shared.status_code in (200, 204), shared.text
    try:
        yield world
    finally:
        controller.stop()
        hooks.server.shutdown()
        hooks.server.server_close()
        with data.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {tickets}, {orders}"))
        data.dispose()


__all__ = ["PG_DATA_URL", "Hooks", "Mailbox", "World", "make_world"]
