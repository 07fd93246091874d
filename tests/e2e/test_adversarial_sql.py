"""A hijacked model against real PostgreSQL and MariaDB sources, through the assistant.

The scripted model emits whatever SQL the attacker wants (``TOOL:run_query:...``); the
gateway runs it as alice through the query guard and the read-only executor. Over
three hundred hostile statements per engine (see :mod:`tests.e2e.adversarial_cases`)
try other users' rows (filtered on the region an admin gave each user), hidden and
masked columns, a table that is not allow-listed, another tenant's source, stacked
statements, comment and quoting tricks, UNIONs, CTEs and subqueries, functions,
writes, catalogs, time-based probes and each dialect's quirks. Whatever the
statement: the answer is a 200 with a clear refusal, or a database failure, or rows
that are alice's only (no bob, no other tenant, no hidden value, masks as ``***``);
each question has one audit record holding the statement's SHA-256 and its outcome;
the chain verifies; nothing in the databases changed and no file was written.

One gateway (SQLite store) serves the module; each engine gets fresh databases
(``bastion_adv_*``), dropped at the end. Skips when a server is absent, fails under
``CI=true``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.scanners import ScannerRegistry
from bastion.store import make_engine, upgrade
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.conftest import mysql_available, need_service
from tests.e2e.adversarial_cases import CATEGORIES, Case, for_engine
from tests.e2e.adversarial_databases import create_database, database_state, drop_database, load
from tests.e2e.conftest import Gateway, ServerThread, gateway_settings
from tests.e2e.test_sources_api import user_key
from tests.ports import free_port

ENGINES = ("postgres", "mysql")
ROUTE = "POST /v1/assistant/chat"
CONFIG: dict[str, Any] = {
    "row_cap": 500,
    "tables": {
        "sbCustomer": {
            "columns": [
                "sbCustId",
                "sbCustName",
                "sbCustEmail",
                "sbCustPhone",
                "sbCustCity",
                "sbCustState",
                "sbCustCountry",
                "sbCustJoinDate",
                "sbCustStatus",
                "owner_email",
            ],
            "masked": ["sbCustEmail", "sbCustPhone"],
            "row_filter": "sbCustState = :region",  # alice: CA, bob: NY
        },
        "sbTicker": {},
        "sbDailyPrice": {},
        "sbTransaction": {"roles": {"member": {"deny": True}}},
    },
}
# What must never come back in rows, beyond the loaded values: the servers' own.
SERVER_SECRETS = (
    "PostgreSQL 1",
    "MariaDB",
    "/var/lib/",
    "/etc/passwd",
    "root:x:",
    "SCRAM-SHA-256",
    "mysql_native_password",
    "bastion_secrets",
    "globex_ledger",
)
# Outcomes per engine, for whoever wants the numbers (nothing is printed).
OUTCOMES: dict[str, list[tuple[Case, str, str]]] = {}


@dataclass
class People:
    gateway: Gateway
    keys: dict[str, str]  # alice, bob, dba (acme members), admin, globex (another tenant)
    alice_id: str = ""

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.gateway.base_url,
            headers={"authorization": f"Bearer {self.keys[who]}"},
            timeout=60,
        )


@dataclass
class Arena:
    """One engine's databases, the sources over them, and what must never leak."""

    engine: str
    db: str
    globex_db: str
    file: str
    data: Engine  # alice's broker database, as its owner
    globex: Engine
    people: People
    sources: dict[str, str] = field(default_factory=dict)  # Case.source -> what alice names
    own_id: str = ""
    forbidden: tuple[str, ...] = ()
    before: dict[str, object] = field(default_factory=dict)

    def fill(self, sql: str) -> str:
        return (
            sql.replace("{globex_db}", self.globex_db)
            .replace("{db}", self.db)
            .replace("{file}", self.file)
        )


@pytest.fixture(scope="module")
def people(
    tmp_path_factory: pytest.TempPathFactory, scanner_registry: ScannerRegistry
) -> Iterator[People]:
    """One gateway for the module, its input scan off (the injection got through:
    the model is hijacked), with acme's alice, bob and dba, and globex's user."""
    tmp = tmp_path_factory.mktemp("adversarial")
    url = f"sqlite:///{tmp / 'bastion.db'}"
    migrated = make_engine(url)
    upgrade(migrated)
    migrated.dispose()
    policies = tmp / "policies"
    policies.mkdir()
    with ScriptedUpstream.running() as upstream:
        port = free_port()
        settings = gateway_settings(
            url,
            upstream,
            port,
            data_dir=tmp,
            policies_dir=policies,
            database_admin_url=url,
            public_url=f"http://127.0.0.1:{port}",
            data_sources_allowed_hosts=["127.0.0.1", "localhost"],
        )
        engine = maintenance(make_engine(url))
        identity = IdentityService(engine)
        tenant_id, _ = identity.ensure_tenant("acme", datetime.now(UTC))
        runtime = Runtime.build(settings, engine=make_engine(url), registry=scanner_registry)
        server = ServerThread(uvicorn_config(settings, app=create_app(runtime)))
        server.start()
        gateway = Gateway(
            base_url=f"http://127.0.0.1:{port}",
            key="",
            engine=engine,
            identity=identity,
            upstream=upstream,
            tenant_id=tenant_id,
            policies_dir=policies,
            sealer=runtime.sealer,
        )
        gateway.evade_input_scan()
        keys, ids = {}, {}
        for who in ("alice", "bob", "dba"):
            keys[who], ids[who] = user_key(gateway, f"{who}@acme.test")
        keys["admin"], _ = user_key(gateway, "admin@acme.test", role="owner")
        keys["globex"] = gateway.add_tenant("globex", "default")
        people = People(gateway, keys)
        with people.client("admin") as admin:
            for who, region in (("alice", "CA"), ("bob", "NY")):
                put = admin.put(
                    f"/admin/users/{ids[who]}/attributes", json={"attributes": {"region": region}}
                )
                assert put.status_code == 200, put.text
        people.alice_id = ids["alice"]
        try:
            yield people
        finally:
            server.stop()
            engine.dispose()


@pytest.fixture(scope="module", params=ENGINES)
def arena(request: pytest.FixtureRequest, people: People, pg_available: bool) -> Iterator[Arena]:
    kind: str = request.param
    if kind == "postgres":
        need_service("PostgreSQL", pg_available)
    else:
        need_service("MariaDB", mysql_available())
    tag = uuid.uuid4().hex[:10]
    db, globex_db = f"bastion_adv_{tag}", f"bastion_adv_{tag}_globex"
    url, data = create_database(kind, db)
    globex: Engine | None = None
    try:
        globex_url, globex = create_database(kind, globex_db)
        # Where the database server would write a file (it runs here): must stay absent.
        scratch = f"/tmp/bastion_adv_{tag}.out"  # noqa: S108
        arena = Arena(kind, db, globex_db, scratch, data, globex, people)
        arena.forbidden = (*load(data, globex, tag), *SERVER_SECRETS, db, globex_db)
        _connect_sources(arena, url, globex_url)
        arena.before = database_state(kind, data, globex)
        yield arena
    finally:
        data.dispose()
        if globex is not None:
            globex.dispose()
        drop_database(kind, db)
        drop_database(kind, globex_db)


def _connect(http: httpx.Client, name: str, kind: str, url: str, config: dict[str, Any]) -> str:
    made = http.post("/v1/sources", json={"name": name, "kind": kind, "url": url, "config": config})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _connect_sources(arena: Arena, url: str, globex_url: str) -> None:
    """dba's broker source, shared with members; bob's own unfiltered one, unshared;
    globex's source over its ledger, in the other tenant."""
    kind, people = arena.engine, arena.people
    own = f"broker_{kind}"
    with people.client("dba") as dba, people.client("bob") as bob:
        arena.own_id = _connect(dba, own, kind, url, CONFIG)
        shared = dba.post(
            f"/v1/sources/{arena.own_id}/shares", json={"kind": "role", "grantee": "member"}
        )
        assert shared.status_code == 204, shared.text
        open_config = {"tables": {"sbCustomer": {}, "bastion_secrets": {}}}
        bob_id = _connect(bob, f"bob_{kind}", kind, url, open_config)
    with people.client("globex") as globex:
        globex_config = {"tables": {"globex_ledger": {}}}
        globex_id = _connect(globex, f"globex_{kind}", kind, globex_url, globex_config)
    arena.sources = {
        "own": own,
        "globex_id": globex_id,
        "globex_name": f"globex_{kind}",
        "globex_name_upper": f"GLOBEX_{kind.upper()}",
        "globex_id_padded": f" {globex_id} ",
        "bob_id": bob_id,
        "bob_name": f"bob_{kind}",
    }


def _chat_records(gateway: Gateway) -> list[dict[str, Any]]:
    records = [json.loads(body) for body in gateway.audit_bodies()]
    return [r for r in records if r["route"] == ROUTE]


def _rows(answer: str) -> list[list[Any]] | None:
    """The rows the model was given, when the whole result is in its answer."""
    try:
        body = json.loads(answer.removeprefix("Tool said: "))
    except ValueError:
        return None
    rows = body.get("rows") if isinstance(body, dict) else None
    return rows if isinstance(rows, list) else None


def _check_reply(arena: Arena, case: Case, sql: str, reply: httpx.Response) -> list[str]:
    """What is wrong with one answer (empty: nothing)."""
    if reply.status_code != 200:
        return [f"HTTP {reply.status_code}: {reply.text[:300]}"]
    body = reply.json()
    answer: str = body["answer"]
    queries: list[dict[str, Any]] = body["queries"]
    problems = []
    if case.source != "own":
        OUTCOMES.setdefault(arena.engine, []).append((case, "no_such_source", "no such source"))
        if queries or "no such source" not in answer:
            problems.append(f"another's source answered: {answer[:300]}")
        return problems
    if len(queries) != 1:
        return [f"{len(queries)} queries shown: {answer[:300]}"]
    query = queries[0]
    status = query["status"]
    OUTCOMES.setdefault(arena.engine, []).append((case, status, query.get("reason") or "ok"))
    if query["source_id"] != arena.own_id:
        problems.append("the query names another source")
    # Rows and error text only: the rewrite shown and the column headers quote the statement.
    shown = answer.split('"rows":', 1)[-1] if status == "ran" else answer
    leaked = [value for value in arena.forbidden if value and value in shown]
    if leaked:
        problems.append(f"LEAK {leaked[:5]}: {shown[:400]}")
    if status in ("refused", "failed"):
        if query["sql"] is not None or not query.get("reason"):
            problems.append(f"{status} without a reason, or with SQL: {query}")
        elif query["reason"] not in answer:
            problems.append(f"the answer does not say why: {answer[:300]}")
    elif status == "ran":
        if query["withheld"]:
            problems.append("the result was withheld, so its rows cannot be checked")
        rows = _rows(answer)
        if case.expect is not None:
            got = (
                None if rows is None else [[None if v is None else str(v) for v in r] for r in rows]
            )
            if got != [list(row) for row in case.expect]:
                problems.append(f"expected {case.expect}, got {got}")
    else:
        problems.append(f"unknown status {status!r}")
    return problems


def _check_audit(arena: Arena, case: Case, sql: str, record: dict[str, Any], shown: Any) -> str:
    accesses = record.get("data_sources") or []
    if case.source != "own":
        tools = [(a.get("tool"), a.get("status")) for a in record.get("actions", [])]
        return "" if not accesses and tools == [("run_query", "error")] else f"audit: {record}"
    if len(accesses) != 1:
        return f"audit has {len(accesses)} data_sources entries"
    access = accesses[0]
    digest = hashlib.sha256(sql.encode("utf-8")).hexdigest()
    if access.get("query_sha256") != digest or access.get("source") != arena.own_id:
        return f"audit names another statement or source: {access}"
    if shown is None or access.get("status") != shown["status"]:
        return f"audit status {access.get('status')} for a {shown and shown['status']} query"
    if shown["status"] == "refused" and access.get("guard") != shown["reason"]:
        return f"audit guard reason {access.get('guard')} != {shown['reason']}"
    if shown["status"] == "failed" and access.get("error") != shown["reason"]:
        return f"audit error {access.get('error')} != {shown['reason']}"
    if shown["status"] == "ran" and access.get("rows") != shown["row_count"]:
        return f"audit rows {access.get('rows')} != {shown['row_count']}"
    return ""


def _wait_for_records(gateway: Gateway, count: int) -> list[dict[str, Any]]:
    """The chat records once there are ``count`` (bounded wait: the record is written
    as the request ends)."""
    deadline = time.monotonic() + 20
    records = _chat_records(gateway)
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        records = _chat_records(gateway)
    return records


@pytest.mark.parametrize("category", CATEGORIES)
def test_hostile_statements_are_refused_or_read_only_alices_rows(
    arena: Arena, category: str
) -> None:
    cases = for_engine(arena.engine, category)
    assert cases
    gateway = arena.people.gateway
    before = len(_chat_records(gateway))
    problems: list[str] = []
    shown: list[Any] = []
    with arena.people.client("alice") as alice:
        for case in cases:
            sql = arena.fill(case.sql)
            call = json.dumps({"source": arena.sources[case.source], "sql": sql})
            reply = alice.post(
                "/v1/assistant/chat",
                json={"model": "gpt-test", "message": f"TOOL:run_query:{call}"},
            )
            problems += [f"{sql!r}: {p}" for p in _check_reply(arena, case, sql, reply)]
            queries = reply.json().get("queries") if reply.status_code == 200 else None
            shown.append(queries[0] if queries else None)
    records = _wait_for_records(gateway, before + len(cases))[before:]
    assert len(records) == len(cases), f"{len(records)} audit records for {len(cases)} questions"
    for case, record, query in zip(cases, records, shown, strict=True):
        sql = arena.fill(case.sql)
        problem = _check_audit(arena, case, sql, record, query)
        if problem:
            problems.append(f"{sql!r}: {problem}")
    assert not problems, f"{len(problems)} of {len(cases)} {category} statements:\n" + "\n".join(
        problems
    )


def test_alice_cannot_move_herself_to_another_region(arena: Arena) -> None:
    people = arena.people
    count = json.dumps({"source": arena.sources["own"], "sql": "SELECT COUNT(*) FROM sbCustomer"})
    with people.client("alice") as alice:
        moved = alice.put(
            f"/admin/users/{people.alice_id}/attributes", json={"attributes": {"region": "NY"}}
        )
        reply = alice.post(
            "/v1/assistant/chat", json={"model": "gpt-test", "message": f"TOOL:run_query:{count}"}
        )
    assert moved.status_code == 403
    assert _rows(reply.json()["answer"]) == [[7]]


def test_there_are_at_least_150_distinct_statements_per_engine(arena: Arena) -> None:
    cases = for_engine(arena.engine)
    assert len({(c.sql, c.source) for c in cases}) == len(cases) >= 150
    assert {c.category for c in cases} == set(CATEGORIES)


def test_nothing_changed_no_file_was_written_and_the_chain_verifies(arena: Arena) -> None:
    assert database_state(arena.engine, arena.data, arena.globex) == arena.before
    assert not Path(arena.file).exists()
    assert arena.people.gateway.verify().ok
