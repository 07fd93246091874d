"""The incident store on SQLite and PostgreSQL: timelines, conditional changes, sealing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.response import IncidentError, IncidentNotFound, IncidentStore, Subject
from bastion.store.schema import IncidentStepRow
from tests.response.conftest import MARKER, World


def store(world: World) -> IncidentStore:
    return IncidentStore(world.app_engine, world.clock, world.keyring)


def subject(world: World) -> Subject:
    return Subject(world.tenant_id, user_id=world.user_id, session_id=world.session_ids[0])


def test_an_incident_keeps_its_subject_and_an_ordered_timeline(world: World) -> None:
    """Steps come back in the order they were appended, with their detail."""
    incidents = store(world)
    incident, created = incidents.open(
        subject(world), "injection", trigger="manual", opened_by="u1"
    )
    assert created and incident.status == "open" and incident.steps == ()
    assert incident.session_id == world.session_ids[0] and incident.opened_by == "u1"
    for name in ("first", "second", "third"):
        incidents.add_step(world.tenant_id, incident.id, name, "done", {"count": 2})
    got = incidents.get(world.tenant_id, incident.id)
    assert [(s.seq, s.step) for s in got.steps] == [(1, "first"), (2, "second"), (3, "third")]
    assert got.steps[0].detail == {"count": 2} and not got.steps[0].has_evidence


def test_concurrent_writers_get_distinct_sequence_numbers(world: World) -> None:
    """Two writers racing for the next seq both land, one after the other."""
    incidents = store(world)
    incident, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")

    def write(n: int) -> None:
        for i in range(5):
            incidents.add_step(world.tenant_id, incident.id, f"w{n}-{i}", "done", {})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [s.seq for s in incidents.get(world.tenant_id, incident.id).steps]
    assert seqs == list(range(1, 16))


def test_close_is_conditional_and_a_closed_incident_takes_no_steps(world: World) -> None:
    """Of two closes exactly one wins; nothing is appended to a closed incident."""
    incidents = store(world)
    incident, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")
    assert incidents.mark_contained(world.tenant_id, incident.id)
    assert not incidents.mark_contained(world.tenant_id, incident.id)
    assert incidents.close(world.tenant_id, incident.id, "u2")
    assert not incidents.close(world.tenant_id, incident.id, "u3")
    closed = incidents.get(world.tenant_id, incident.id)
    assert (closed.status, closed.closed_by, closed.closed_at) == ("closed", "u2", world.clock())
    assert not incidents.mark_contained(world.tenant_id, incident.id)
    with pytest.raises(IncidentError):
        incidents.add_step(world.tenant_id, incident.id, "late", "done", {})


def test_evidence_is_sealed_and_opens_only_in_its_own_row(world: World) -> None:
    """A snapshot is not readable in the database, and a blob moved to another step
    does not open."""
    incidents = store(world)
    incident, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")
    first = incidents.add_step(
        world.tenant_id, incident.id, "snap", "done", {"turns": 1}, evidence={"text": MARKER}
    )
    second = incidents.add_step(
        world.tenant_id, incident.id, "snap2", "done", {}, evidence={"text": "other"}
    )
    assert first.has_evidence
    assert incidents.open_evidence(world.tenant_id, incident.id, first.id) == {"text": MARKER}
    with world.engine.begin() as conn:
        blob = conn.execute(
            select(IncidentStepRow.sealed).where(IncidentStepRow.id == first.id)
        ).scalar_one()
        assert blob is not None and MARKER.encode() not in blob
        conn.execute(
            update(IncidentStepRow).where(IncidentStepRow.id == second.id).values(sealed=blob)
        )
    with pytest.raises(IncidentError, match="does not open") as caught:
        incidents.open_evidence(world.tenant_id, incident.id, second.id)
    assert MARKER not in str(caught.value) + repr(incidents.get(world.tenant_id, incident.id))
    with pytest.raises(IncidentError):  # under another key-encryption key: nothing opens
        other = Keyring(world.app_engine, LocalKeyProvider(bytes(32)), world.clock)
        IncidentStore(world.app_engine, world.clock, other).open_evidence(
            world.tenant_id, incident.id, first.id
        )


def test_evidence_needs_a_keyring(world: World) -> None:
    """Without a key-encryption key, content evidence is refused, not stored in clear."""
    incidents = IncidentStore(world.app_engine, world.clock)
    incident, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")
    with pytest.raises(IncidentError, match="key-encryption key"):
        incidents.add_step(world.tenant_id, incident.id, "s", "done", {}, evidence={"t": MARKER})
    assert incidents.get(world.tenant_id, incident.id).steps == ()


def test_one_incident_per_alert_and_playbook(world: World) -> None:
    """Opening again for the same alert gives the incident already open."""
    incidents = store(world)
    first, created = incidents.open(
        subject(world), "data_leakage", trigger="alert", opened_by="detector:x", alert_key="k1"
    )
    again, created_again = incidents.open(
        subject(world), "data_leakage", trigger="alert", opened_by="detector:x", alert_key="k1"
    )
    other, _ = incidents.open(
        subject(world), "injection", trigger="alert", opened_by="detector:x", alert_key="k1"
    )
    assert created and not created_again and again.id == first.id and other.id != first.id


def test_another_tenant_sees_none_of_it(world: World) -> None:
    """Listing and reading are bound to the tenant, on the application's connection."""
    incidents = store(world)
    incident, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")
    incidents.add_step(world.tenant_id, incident.id, "s", "done", {}, evidence={"t": MARKER})
    assert [i.id for i in incidents.list(world.tenant_id)] == [incident.id]
    assert incidents.list(world.other_tenant_id) == []
    with pytest.raises(IncidentNotFound):
        incidents.get(world.other_tenant_id, incident.id)
    with pytest.raises(IncidentNotFound):
        incidents.add_step(world.other_tenant_id, incident.id, "s", "done", {})
    with pytest.raises(IncidentNotFound):
        incidents.open_evidence(world.other_tenant_id, incident.id, "x")
    with pytest.raises(IncidentNotFound):
        incidents.close(world.other_tenant_id, incident.id, "intruder")
    assert not incidents.mark_contained(world.other_tenant_id, incident.id)
    assert incidents.get(world.tenant_id, incident.id).status == "open"


def test_listing_filters_by_status_and_playbook(world: World) -> None:
    incidents = store(world)
    a, _ = incidents.open(subject(world), "injection", trigger="manual", opened_by="u1")
    b, _ = incidents.open(subject(world), "data_leakage", trigger="manual", opened_by="u1")
    incidents.close(world.tenant_id, a.id, "u1")
    assert [i.id for i in incidents.list(world.tenant_id, statuses=("open",))] == [b.id]
    assert [i.id for i in incidents.list(world.tenant_id, playbook="injection")] == [a.id]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger": "cron", "opened_by": "u1"}, "trigger"),
        ({"trigger": "manual", "opened_by": ""}, "opened_by"),
        ({"trigger": "alert", "opened_by": "d", "alert_key": "k" * 65}, "alert_key"),
    ],
)
def test_open_refuses_bad_arguments(world: World, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store(world).open(subject(world), "injection", **kwargs)  # type: ignore[arg-type]
