"""Isolations on SQLite and PostgreSQL: reported while active, gone once released, one
indexed query on the request path, held to the tenant."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bastion.response import IncidentNotFound, IncidentStore, Isolations, Subject
from tests.response.conftest import World


def incident(world: World, tenant_id: str | None = None) -> str:
    incidents = IncidentStore(world.app_engine, world.clock)
    opened, _ = incidents.open(
        Subject(tenant_id or world.tenant_id), "injection", trigger="manual", opened_by="u1"
    )
    return opened.id


def test_an_isolated_session_is_reported_and_a_released_one_is_not(world: World) -> None:
    isolations, incident_id = Isolations(world.app_engine, world.clock), incident(world)
    session = world.session_ids[0]
    assert isolations.is_isolated(world.tenant_id, session_id=session) is None
    isolation, new = isolations.isolate(world.tenant_id, "session", session, incident_id)
    assert new and isolation.incident_id == incident_id
    assert isolations.is_isolated(world.tenant_id, session_id=session) == incident_id
    assert isolations.is_isolated(world.tenant_id, session_id=world.session_ids[1]) is None
    assert isolations.release(world.tenant_id, "session", session, "u2")
    assert not isolations.release(world.tenant_id, "session", session, "u2")
    assert isolations.is_isolated(world.tenant_id, session_id=session) is None
    [released] = isolations.of_incident(world.tenant_id, incident_id)
    assert (released.released_by, released.released_at) == ("u2", world.clock())


@pytest.mark.parametrize("kind", ["session", "conversation", "key"])
def test_each_kind_is_matched_on_its_own_identifier(world: World, kind: str) -> None:
    """A ref isolated as one kind does not isolate a request carrying it as another."""
    isolations, incident_id = Isolations(world.app_engine, world.clock), incident(world)
    isolations.isolate(world.tenant_id, kind, "ref-1", incident_id)  # type: ignore[arg-type]
    for asked in ("session", "conversation", "key"):
        found = isolations.is_isolated(world.tenant_id, **{f"{asked}_id": "ref-1"})
        assert found == (incident_id if asked == kind else None)
    request: dict[str, Any] = {"session_id": "s-x", "key_id": "k-x", "conversation_id": "c-x"}
    request[f"{kind}_id"] = "ref-1"
    assert isolations.is_isolated(world.tenant_id, **request) == incident_id
    assert isolations.is_isolated(world.tenant_id) is None


def test_isolating_twice_keeps_one_active_isolation(world: World) -> None:
    """The second incident finds the target already isolated (by the first); after a
    release it can isolate it anew."""
    isolations = Isolations(world.app_engine, world.clock)
    first, second = incident(world), incident(world)
    a, new_a = isolations.isolate(world.tenant_id, "key", "k1", first)
    b, new_b = isolations.isolate(world.tenant_id, "key", "k1", second)
    assert new_a and not new_b and b.id == a.id and b.incident_id == first
    isolations.release(world.tenant_id, "key", "k1", "u1")
    c, new_c = isolations.isolate(world.tenant_id, "key", "k1", second)
    assert new_c and c.incident_id == second
    assert isolations.is_isolated(world.tenant_id, key_id="k1") == second


def test_another_tenant_neither_sees_nor_releases_an_isolation(world: World) -> None:
    isolations, incident_id = Isolations(world.app_engine, world.clock), incident(world)
    isolations.isolate(world.tenant_id, "session", "shared-ref", incident_id)
    assert isolations.is_isolated(world.other_tenant_id, session_id="shared-ref") is None
    assert not isolations.release(world.other_tenant_id, "session", "shared-ref", "intruder")
    assert isolations.is_isolated(world.tenant_id, session_id="shared-ref") == incident_id
    with pytest.raises(IncidentNotFound):  # the incident is not the other tenant's
        isolations.isolate(world.other_tenant_id, "session", "x", incident_id)
    assert isolations.is_isolated(world.other_tenant_id, session_id="x") is None


def test_the_list_is_the_tenants_active_isolations_newest_first(world: World) -> None:
    """Released isolations and another tenant's are not listed; each one names the
    incident that made it; ``limit`` bounds the list."""
    isolations = Isolations(world.app_engine, world.clock)
    first, second = incident(world), incident(world)
    isolations.isolate(world.tenant_id, "key", "k1", first)
    world.clock.now += timedelta(minutes=1)
    isolations.isolate(world.tenant_id, "session", "s1", second)
    world.clock.now += timedelta(minutes=1)
    isolations.isolate(world.tenant_id, "conversation", "c1", second)
    isolations.release(world.tenant_id, "conversation", "c1", "u2")
    theirs = incident(world, world.other_tenant_id)
    isolations.isolate(world.other_tenant_id, "key", "k-other", theirs)
    listed = isolations.listed(world.tenant_id)
    assert [(i.kind, i.ref, i.incident_id) for i in listed] == [
        ("session", "s1", second),
        ("key", "k1", first),
    ]
    assert {(i.playbook, i.incident_status) for i in listed} == {("injection", "open")}
    assert listed[1].since == listed[0].since - timedelta(minutes=1)
    assert [i.ref for i in isolations.listed(world.tenant_id, limit=1)] == ["s1"]
    assert [i.ref for i in isolations.listed(world.other_tenant_id)] == ["k-other"]


def test_bad_arguments_are_refused(world: World) -> None:
    isolations, incident_id = Isolations(world.app_engine, world.clock), incident(world)
    with pytest.raises(ValueError, match="kind"):
        isolations.isolate(world.tenant_id, "user", "u", incident_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ref"):
        isolations.isolate(world.tenant_id, "key", "", incident_id)
    with pytest.raises(ValueError, match="released_by"):
        isolations.release(world.tenant_id, "key", "k", "")


def test_the_request_path_check_is_one_indexed_query(world: World, engine: Engine) -> None:
    """``is_isolated`` runs one statement on ``isolations``, and the planner reads it
    from the ``uq_isolations_active`` index (sequential scans disabled on PostgreSQL,
    whose planner scans tiny tables whole)."""
    incident_id = incident(world)
    isolations = Isolations(engine, world.clock)
    isolations.isolate(world.tenant_id, "session", "s1", incident_id)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "isolations" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert isolations.is_isolated(world.tenant_id, "s1", "k1", "c1") == incident_id
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, params)] = seen
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            plan = " ".join(str(r[-1]) for r in rows)
    assert "uq_isolations_active" in plan, plan


def test_racing_isolations_of_one_target_make_one_row(world: World) -> None:
    """Concurrent incidents isolating the same key: one isolation, the others find it."""
    isolations = Isolations(world.app_engine, world.clock)
    incidents = [incident(world) for _ in range(4)]
    results: list[tuple[str, bool]] = []

    def isolate(incident_id: str) -> None:
        found, new = isolations.isolate(world.tenant_id, "key", "k-race", incident_id)
        results.append((found.id, new))

    threads = [threading.Thread(target=isolate, args=(i,)) for i in incidents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len({row_id for row_id, _ in results}) == 1
    assert sum(new for _, new in results) == 1
