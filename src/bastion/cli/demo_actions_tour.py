"""The demo's agent-action steps: a ticket the user confirms, a webhook an approver
approves, and a hijacked model that can neither invent tools nor approve itself.

Setup (before the gateway serves): a SQLite ``helpdesk`` database with a ``tickets``
table, the tenant policy enabling ``create_ticket`` (tier 2) and ``call_webhook``
(tier 3) with one webhook target, and a loopback receiver standing in for the ops
team's webhook and the approvers' notification channel.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import typer

__all__ = ["actions_policy", "actions_tour", "prepare_helpdesk", "webhook_receiver"]


def prepare_helpdesk(sources_dir: Path) -> Path:
    """The helpdesk database the demo's ``create_ticket`` writes to."""
    path = sources_dir / "helpdesk.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "title TEXT, body TEXT, priority TEXT, status TEXT DEFAULT 'open', "
            "requested_by TEXT, created_at TEXT)"
        )
    db.close()
    return path


def actions_policy(hook_port: int) -> str:
    """The demo tenant's policy: the default scanners, plus two actions."""
    hook = f"http://127.0.0.1:{hook_port}"
    return (
        "[actions]\n"
        'enabled = ["create_ticket", "call_webhook"]\n'
        f'notify_url = "{hook}/approvals"\n'
        "[actions.create_ticket]\n"
        'source = "helpdesk"\n'
        "[actions.call_webhook]\n"
        f'targets = {{ ops = "{hook}/ops" }}\n'
    )


@contextmanager
def webhook_receiver() -> Iterator[tuple[int, list[tuple[str, dict[str, Any]]]]]:
    """A loopback receiver: its port and the (path, body) of each POST it got."""
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(min(int(self.headers.get("content-length", "0")), 65536))
            try:
                received.append((self.path, json.loads(raw or b"{}")))
            except ValueError:
                received.append((self.path, {}))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def actions_tour(
    root_url: str,
    keys: dict[str, str],
    helpdesk_url: str,
    received: list[tuple[str, dict[str, Any]]],
) -> None:
    """``keys``: carol (admin), alice (member), dave (approver)."""

    def http(who: str) -> httpx.Client:
        headers = {"authorization": f"Bearer {keys[who]}"}
        return httpx.Client(base_url=root_url, headers=headers, timeout=30)

    typer.echo("\n== 7. Agent actions: the model proposes, people decide")
    with http("carol") as carol:
        made = carol.post(
            "/v1/sources",
            json={
                "name": "helpdesk",
                "kind": "sqlite",
                "url": helpdesk_url,
                "config": {"tables": {"tickets": {}}},
            },
        )
        made.raise_for_status()
        carol.post(
            f"/v1/sources/{made.json()['id']}/shares", json={"kind": "role", "grantee": "member"}
        ).raise_for_status()
    with http("alice") as alice:
        args = json.dumps({"title": "VPN drops every hour", "body": "since Monday"})
        ticket = _propose(alice, "create_ticket", args)
        typer.echo(f"   the model proposes: {ticket.get('summary')}")
        typer.echo(f"   status: {ticket['status']} (tier {ticket.get('tier')}): nothing ran yet")
        done = alice.post(
            f"/v1/actions/{ticket['id']}/confirm", json={"action_hash": ticket["action_hash"]}
        )
        typer.echo(f"   alice confirms: {done.json().get('status')}, {_result(done)}")
        invented = _propose(alice, "approve_action", '{"id": "' + ticket["id"] + '"}')
        typer.echo(f"   the hijacked model calls approve_action: {invented['code']}")
        hook = _propose(alice, "call_webhook", '{"target": "ops", "event": "vpn.restart"}')
        typer.echo(f"   the model proposes: {hook.get('summary')}: {hook['status']}")
        notified = [body for path, body in received if path == "/approvals"]
        typer.echo(f"   approvers notified: {len(notified)} request(s) waiting")
        own = alice.post(
            f"/v1/approvals/{hook['id']}/approve", json={"action_hash": hook["action_hash"]}
        )
        typer.echo(f"   alice tries to approve it herself: {own.status_code} {_code(own)}")
    with http("dave") as dave:
        approved = dave.post(
            f"/v1/approvals/{hook['id']}/approve", json={"action_hash": hook["action_hash"]}
        )
        typer.echo(f"   dave (approver) approves: {approved.json().get('status')}")
        again = dave.post(
            f"/v1/approvals/{hook['id']}/approve", json={"action_hash": hook["action_hash"]}
        )
        typer.echo(f"   approving it again: {again.status_code} {_code(again)} (used once)")
    events = [body.get("event") for path, body in received if path == "/ops"]
    typer.echo(f"   the ops webhook received: {events}")


def _propose(client: httpx.Client, tool: str, arguments: str) -> dict[str, Any]:
    reply = client.post(
        "/v1/assistant/chat",
        json={"model": "demo-model", "message": f"TOOL:{tool}:{arguments}"},
    )
    if reply.status_code != 200:
        typer.echo(f"   unexpected answer {reply.status_code}: {reply.text[:300]}")
        return {"status": "error", "code": _code(reply)}
    actions: list[dict[str, Any]] = reply.json()["actions"]
    return actions[0] if actions else {"status": "none", "code": "none"}


def _result(response: httpx.Response) -> str:
    result = response.json().get("result") or {}
    return str(result.get("message", ""))


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""
