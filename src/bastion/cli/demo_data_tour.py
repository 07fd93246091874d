"""The demo's data-assistant steps: two users, one database, each sees only their rows.

Setup (before the gateway serves): defog's ``broker`` database is loaded into a SQLite
file in the demo's data directory; carol (admin) owns it as a data source with the
demo's suggested guard rules and shares it with every member; alice and bob (members)
get the attribute ``region`` (CA and NY), which the rules bind as ``:region``. Then
the hijacked demo model is told to read every customer, to widen its filter, and to
delete the table: the gateway runs what it asks as the asking user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import typer
from sqlalchemy import Engine, create_engine, select

from bastion.demo_data import load, policies
from bastion.identity import IdentityService
from bastion.identity.attributes import UserAttributes
from bastion.store.schema import User
from bastion.store.tenancy import tenant_connect

__all__ = ["DemoUsers", "data_tour", "prepare_data"]

_SOURCE = "broker"
_EVERYONE = "SELECT sbCustName, sbCustState, sbCustEmail FROM sbCustomer"
_WIDER = _EVERYONE + " WHERE 1=1 OR sbCustState <> ''"


@dataclass(frozen=True, slots=True)
class DemoUsers:
    carol: str  # admin: owns the source
    alice: str  # member, region CA
    bob: str  # member, region NY


def prepare_data(
    engine: Engine, identity: IdentityService, tenant: str, sources_dir: Path, now: datetime
) -> DemoUsers:
    """Load the database and create the three users with their keys and attributes."""
    sources_dir.mkdir(parents=True, exist_ok=True)
    path = sources_dir / "broker.db"
    database = create_engine(f"sqlite:///{path}")
    try:
        load(database, _SOURCE, now=now)
    finally:
        database.dispose()
    keys: dict[str, str] = {}
    demo = policies(_SOURCE)["users"]
    attributes = UserAttributes(engine)
    tenant_id = identity.tenant_id(tenant)
    for name in ("carol", "alice", "bob"):
        email = f"{name}@demo.test"
        keys[name] = identity.create_key(
            tenant, email, now, name="demo", role=demo[name]["role"]
        ).secret
        with tenant_connect(engine, tenant_id) as conn:
            user_id = conn.execute(
                select(User.id).where(User.tenant_id == tenant_id, User.email == email)
            ).scalar_one()
        params = {k: str(v) for k, v in demo[name]["params"].items()}
        if params:
            attributes.set(tenant_id, user_id, params)
    return DemoUsers(keys["carol"], keys["alice"], keys["bob"])


def data_tour(root_url: str, users: DemoUsers, sources_dir: Path) -> None:
    def http(key: str) -> httpx.Client:
        return httpx.Client(
            base_url=root_url, headers={"authorization": f"Bearer {key}"}, timeout=30
        )

    typer.echo("== 6. The data assistant: one database, each user sees only their rows")
    with http(users.carol) as carol:
        made = carol.post(
            "/v1/sources",
            json={
                "name": _SOURCE,
                "kind": "sqlite",
                "url": f"sqlite:///{sources_dir / 'broker.db'}",
                "config": policies(_SOURCE)["config"],
            },
        )
        made.raise_for_status()
        shared = carol.post(
            f"/v1/sources/{made.json()['id']}/shares", json={"kind": "role", "grantee": "member"}
        )
        shared.raise_for_status()
    typer.echo("   carol (admin) connected 'broker' and shared it with members")
    for name, key in (("alice", users.alice), ("bob", users.bob)):
        with http(key) as client:
            _ask(client, name, _EVERYONE, "asks the model for every customer")
    with http(users.alice) as client:
        _ask(client, "alice", _WIDER, "the hijacked model widens the filter")
        _ask(client, "alice", "DELETE FROM sbCustomer", "the hijacked model tries to delete")


def _ask(client: httpx.Client, user: str, sql: str, what: str) -> None:
    message = "TOOL:run_query:" + json.dumps({"source": _SOURCE, "sql": sql})
    reply = client.post("/v1/assistant/chat", json={"model": "demo-model", "message": message})
    typer.echo(f"   {user}: {what}: {sql}")
    if reply.status_code != 200:
        typer.echo(f"   unexpected answer {reply.status_code}: {reply.text[:200]}")
        return
    [query] = reply.json()["queries"]
    if query["status"] != "ran":
        typer.echo(f"   refused by the guard: {query['reason']}")
        return
    typer.echo(f"   ran: {query['sql']}")
    try:
        rows = json.loads(reply.json()["answer"].removeprefix("Tool said: "))["rows"]
    except (ValueError, KeyError, TypeError):
        rows = []
    states = sorted({row[1] for row in rows})
    emails = sorted({row[2] for row in rows})
    typer.echo(f"   {query['row_count']} rows, states {states}, emails {emails}")
