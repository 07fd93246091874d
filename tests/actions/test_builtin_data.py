"""create_ticket, get_ticket and update_record, run as the caller on real PostgreSQL,
MariaDB and SQLite databases, through the real source store and executor.

ana (region north) owns the ``shop`` source and shares it with cy (region south); bo
sees nothing. ``orders`` lets ``status`` and ``notes`` be written by key ``id``
(members: their region only); ``items`` has a key that is not unique.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text

from bastion.actions.builtin.records import (
    UpdateRecord,
    UpdateRecordArguments,
    UpdateRecordConfig,
)
from bastion.actions.builtin.tickets import (
    CreateTicket,
    CreateTicketArguments,
    GetTicket,
    GetTicketArguments,
    TicketConfig,
)
from bastion.actions.catalog import ActionResult, ActionServices
from bastion.assistant.tools import CallerRef
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources._hosts import HostPolicy
from bastion.datasources.executor import Executor
from bastion.datasources.sources import DataSources
from bastion.store import make_engine, upgrade
from bastion.store.schema import Tenant, User
from bastion.store.tenancy import maintenance
from tests.conftest import PG_ADMIN_URL, mysql_available, need_service

KEK = bytes(range(7, 39))
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]
MY_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
HOSTILE = "'); DROP TABLE tickets; --"
CONFIG: dict[str, Any] = {
    "tables": {
        "orders": {
            "columns": ["id", "region", "status", "notes", "email"],
            "masked": ["email"],
            "writable": ["status", "notes"],
            "key": "id",
            "roles": {"member": {"row_filter": "region = :region"}},
        },
        "items": {"writable": ["status"], "key": "code"},
        "tickets": {"columns": ["id", "title", "priority", "status", "created_at"]},
    }
}
TICKETS = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgres": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
}
CREATED = {"sqlite": "TEXT", "postgres": "TIMESTAMP", "mysql": "DATETIME"}


def _setup(kind: str) -> list[str]:
    return [
        f"CREATE TABLE tickets ({TICKETS[kind]}, title VARCHAR(200) NOT NULL, body TEXT, "
        "priority VARCHAR(16), status VARCHAR(16) DEFAULT 'open', requested_by VARCHAR(320), "
        f"created_at {CREATED[kind]})",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, region VARCHAR(16), status VARCHAR(16), "
        "notes VARCHAR(200), email VARCHAR(64))",
        "INSERT INTO orders VALUES (1, 'north', 'open', 'n1', 'a@x'), "
        "(2, 'south', 'open', 'n2', 'b@x')",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, code VARCHAR(16), status VARCHAR(16))",
        "INSERT INTO items VALUES (1, 'dup', 'new'), (2, 'dup', 'new')",
    ]


def _sql(url: str, *statements: str, autocommit: bool = False) -> list[tuple[Any, ...]]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT") if autocommit else create_engine(url)
    out: list[tuple[Any, ...]] = []
    try:
        with engine.begin() as conn:
            for statement in statements:
                result = conn.execute(text(statement))
                if result.returns_rows:
                    out = [tuple(row) for row in result]
    finally:
        engine.dispose()
    return out


@dataclass
class World:
    services: ActionServices
    url: str  # the data database, for inspection
    kind: str
    ana: CallerRef
    bo: CallerRef
    cy: CallerRef

    def orders(self) -> list[tuple[Any, ...]]:
        return _sql(self.url, "SELECT id, region, status, notes FROM orders ORDER BY id")


def _database(kind: str, tmp: Path, pg_available: bool) -> Iterator[str]:
    name = f"bastion_act_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'shop.db'}"
        _sql(url, *_setup(kind))
        yield url
        return
    if kind == "postgres":
        need_service("PostgreSQL", pg_available)
        admin = PG_ADMIN_URL
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        need_service("MariaDB", mysql_available())
        admin = MY_ADMIN_URL
        url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`"
    _sql(admin, create, autocommit=True)
    try:
        _sql(url, *_setup(kind))
        yield url
    finally:
        _sql(admin, drop, autocommit=True)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[World]:
    kind: str = request.param
    sources_dir = tmp_path / "sources"
    sources_dir.mkdir()
    store_url = f"sqlite:///{tmp_path / 'bastion.db'}"
    owner = make_engine(store_url)
    upgrade(owner)
    tenant = str(uuid.uuid4())
    ids = {name: str(uuid.uuid4()) for name in ("ana", "bo", "cy")}
    with maintenance(owner).begin() as conn:
        conn.execute(insert(Tenant).values(id=tenant, name="acme", created_at=now()))
        for name, uid in ids.items():
            conn.execute(
                insert(User).values(
                    id=uid,
                    tenant_id=tenant,
                    email=f"{name}@acme.test",
                    role="member",
                    created_at=now(),
                )
            )
    app = make_engine(store_url)
    keyring = Keyring(app, LocalKeyProvider(KEK), now)
    store = DataSources(app, keyring, now, sqlite_dir=sources_dir)
    regions = {ids["ana"]: "north", ids["bo"]: "north", ids["cy"]: "south"}
    callers = {
        name: CallerRef(tenant, uid, f"{name}@acme.test", "member") for name, uid in ids.items()
    }
    executor = Executor(hosts=HostPolicy(["127.0.0.1"]))
    data = _database(kind, sources_dir, pg_available)
    try:
        url = next(data)
        source = store.connect(tenant, ids["ana"], "shop", kind, url, CONFIG)
        store.share(tenant, source.id, ids["ana"], "user", ids["cy"])
        services = ActionServices(
            executor=executor,
            hosts=HostPolicy(["127.0.0.1"]),
            sources=store,
            params_for=lambda caller: {"region": regions[caller.user_id]},
        )
        yield World(services, url, kind, callers["ana"], callers["bo"], callers["cy"])
    finally:
        executor.close()
        data.close()
        app.dispose()
        owner.dispose()


SHOP = TicketConfig(source="shop")


def create(
    world: World, caller: CallerRef, config: TicketConfig = SHOP, **fields: Any
) -> ActionResult:
    return CreateTicket().run(world.services, caller, CreateTicketArguments(**fields), config)


def get(
    world: World, caller: CallerRef, ticket_id: int, config: TicketConfig = SHOP
) -> ActionResult:
    return GetTicket().run(world.services, caller, GetTicketArguments(ticket_id=ticket_id), config)


def update(world: World, caller: CallerRef, **fields: Any) -> ActionResult:
    arguments = UpdateRecordArguments.model_validate_json(json.dumps(fields))
    return UpdateRecord().run(world.services, caller, arguments, UpdateRecordConfig())


def update_args(**fields: Any) -> dict[str, Any]:
    return {"source": "shop", "table": "orders", "key": 1, **fields}


# --- tickets ---------------------------------------------------------------------------


def test_get_ticket_reads_back_what_create_ticket_wrote(world: World) -> None:
    made = create(world, world.ana, title="Printer on fire", body="smoke", priority="high")
    assert made.ok and made.code == "done", made
    ticket_id = made.detail["ticket_id"]
    assert isinstance(ticket_id, int) and made.message == f"ticket {ticket_id} created"
    read = get(world, world.cy, ticket_id)
    assert read.ok and read.code == "done"
    assert read.detail["id"] == ticket_id
    assert (read.detail["title"], read.detail["priority"]) == ("Printer on fire", "high")
    assert read.detail["status"] == "open"
    assert "body" not in read.detail  # get_ticket reads through the guard: body is hidden
    created = read.detail["created_at"]
    assert isinstance(created, str) and created[:4] == str(now().year)
    stored = _sql(world.url, f"SELECT requested_by, body FROM tickets WHERE id = {ticket_id}")  # noqa: S608
    assert stored == [("ana@acme.test", "smoke")]


def test_hostile_ticket_text_is_stored_verbatim(world: World) -> None:
    body = "x'); DELETE FROM orders; -- %s %(p0)s :p1 \\ `"
    made = create(world, world.ana, title=HOSTILE, body=body)
    assert made.ok, made
    ticket_id = made.detail["ticket_id"]
    assert HOSTILE not in made.message and "DROP" not in repr(made)
    assert get(world, world.ana, int(str(ticket_id))).detail["title"] == HOSTILE
    assert _sql(world.url, "SELECT title, body, priority FROM tickets") == [
        (HOSTILE, body, "normal")
    ]
    assert len(world.orders()) == 2
    second = create(world, world.ana, title="after")
    assert second.ok and second.detail["ticket_id"] != ticket_id


def test_unknown_ticket_and_unusable_sources(world: World) -> None:
    assert get(world, world.ana, 999_999).code == "not_found"
    cases = (
        (TicketConfig(source="nope"), "no_source"),
        (TicketConfig(source="shop", table="absent"), "db_error"),
    )
    for config, code in cases:
        result = create(world, world.ana, config=config, title="t")
        assert (result.ok, result.code) == (False, code)
        assert "absent" not in result.message and "nope" not in result.message
        # get_ticket reads through the query guard: a table the source's rules do not
        # list is unknown to the caller before any database is asked.
        read = get(world, world.ana, 1, config=config).code
        assert read == ("unknown_table" if code == "db_error" else code)
    # bo may not query the source: the same answer as a source that does not exist.
    assert create(world, world.bo, title="t").code == "no_source"
    assert get(world, world.bo, 1).code == "no_source"
    assert _sql(world.url, "SELECT COUNT(*) FROM tickets") == [(0,)]


# --- update_record ----------------------------------------------------------------------


def test_update_record_changes_one_row_as_the_caller(world: World) -> None:
    changes = [{"column": "status", "value": "closed"}, {"column": "notes", "value": HOSTILE}]
    result = update(world, world.ana, **update_args(changes=changes))
    assert (result.ok, result.code, result.message, dict(result.detail)) == (
        True,
        "done",
        "1 row updated",
        {"rows": 1},
    )
    assert world.orders() == [(1, "north", "closed", HOSTILE), (2, "south", "open", "n2")]
    # By source id and a string key as well; a NULL value.
    source_id = world.services.sources.visible(  # type: ignore[union-attr]
        world.cy.tenant_id, world.cy.user_id, "member"
    )[0].id
    again = update(
        world,
        world.cy,
        source=source_id,
        table="orders",
        key="2",
        changes=[{"column": "notes", "value": None}],
    )
    assert again.ok, again
    assert world.orders()[1] == (2, "south", "open", None)


def test_a_row_outside_the_filter_is_no_row_and_unchanged(world: World) -> None:
    before = world.orders()
    for caller, key in ((world.ana, 2), (world.cy, 1), (world.ana, 404)):
        result = update(
            world,
            caller,
            **update_args(key=key, changes=[{"column": "status", "value": "stolen"}]),
        )
        assert (result.ok, result.code) == (False, "no_row")
    assert world.orders() == before
    # bo cannot see the source at all.
    refused = update(world, world.bo, **update_args(changes=[{"column": "status", "value": "x"}]))
    assert refused.code == "no_source"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"changes": [{"column": "region", "value": "south"}]}, "column_not_writable"),
        ({"changes": [{"column": "email", "value": "me@evil"}]}, "column_not_writable"),
        ({"changes": [{"column": "id", "value": 7}]}, "key_not_writable"),
        ({"changes": [{"column": 'status" = 1, "region', "value": "x"}]}, "bad_identifier"),
        ({"changes": [{"column": "status", "value": 1}] * 2}, "duplicate_column"),
        (
            {"table": "orders; DROP TABLE orders", "changes": [{"column": "status", "value": 1}]},
            "bad_identifier",
        ),
        ({"table": "secrets", "changes": [{"column": "status", "value": 1}]}, "unknown_table"),
        ({"table": "tickets", "changes": [{"column": "status", "value": 1}]}, "not_writable"),
    ],
)
def test_update_record_refusals(world: World, fields: dict[str, Any], code: str) -> None:
    before = world.orders()
    result = update(world, world.ana, **update_args(**fields))
    assert (result.ok, result.code) == (False, code)
    assert "south" not in result.message and "evil" not in result.message
    assert world.orders() == before


def test_a_key_that_matches_two_rows_changes_nothing(world: World) -> None:
    result = update(
        world,
        world.ana,
        **update_args(table="items", key="dup", changes=[{"column": "status", "value": "x"}]),
    )
    assert (result.ok, result.code) == (False, "too_many_rows")
    assert _sql(world.url, "SELECT status FROM items ORDER BY id") == [("new",), ("new",)]


def test_the_read_path_still_refuses_writes(world: World) -> None:
    from bastion.datasources.queries import run_guarded

    source = world.services.sources.get_for(  # type: ignore[union-attr]
        world.ana.tenant_id,
        world.services.sources.visible(world.ana.tenant_id, world.ana.user_id, "member")[0].id,  # type: ignore[union-attr]
        world.ana.user_id,
        "member",
    )
    update(world, world.ana, **update_args(changes=[{"column": "status", "value": "w"}]))
    outcome = run_guarded(
        world.services.executor,
        source,
        "UPDATE orders SET status = 'r'",
        user_id=world.ana.user_id,
        role="member",
        params={"region": "north"},
        timeout_ms=5000,
    )
    assert outcome.status == "refused" and outcome.guard == "not_select"
    assert world.orders()[0][2] == "w"
