"""How a playbook run behaves whatever the playbook: failing and raising steps, failed
containment, one incident per alert, closing and releasing, tenants kept apart, step
order, subjects, and a tampered chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from bastion.audit import verify_chain
from bastion.detection import Alert
from bastion.response import (
    PLAYBOOKS,
    IncidentStore,
    Isolations,
    Subject,
    close_incident,
    release_isolation,
    run_playbook,
)
from bastion.store.schema import AuditRecord
from tests.response.conftest import MARKER, NOW, SECRET_VALUE, World, verdict
from tests.response.playbook_checks import (
    assert_recorded,
    incident_records,
    stored_text,
    timeline,
)


async def test_a_failing_step_is_recorded_and_the_rest_still_runs(world: World) -> None:
    """No secret store and no audit key: those steps fail, every other step runs."""
    await world.record(request_id="req-a", session_id=None, key_id=world.keys[0].id)
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, user_id=world.user_id),
        world.services(secrets=None, audit_sealer=None),
        trigger="manual",
        opened_by="u1",
        upstream_values={"openai-prod": SECRET_VALUE},
    )
    assert timeline(report) == [
        ("rotate_api_keys", "done"),
        ("revoke_sessions", "done"),
        ("rotate_upstream_keys", "failed"),
        ("list_activity", "done"),
        ("verify_audit_chain", "failed"),
    ]
    assert report.incident.step("rotate_upstream_keys").reason == "no_secret_store"
    assert report.incident.step("verify_audit_chain").reason == "sealer_required"
    assert report.contained  # both failures are outside containment
    assert SECRET_VALUE not in stored_text(world)
    assert_recorded(world, report)


async def test_unknown_upstream_secret_names_are_refused(world: World) -> None:
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, user_id=world.user_id),
        world.services(),
        trigger="manual",
        opened_by="u1",
        upstream_values={"openai-prod": SECRET_VALUE, SECRET_VALUE: "x"},
    )
    step = report.incident.step("rotate_upstream_keys")
    assert (step.status, step.reason, step.detail["unknown"]) == ("failed", "unknown_secret", 1)
    assert world.secrets.get("openai-prod") is None
    assert SECRET_VALUE not in stored_text(world)


async def test_failed_containment_leaves_the_incident_open(world: World) -> None:
    """Nothing to isolate or revoke: the containment steps fail, the collection steps
    still run, and the incident stays open for a person."""
    injection = await run_playbook(
        "injection", Subject(world.tenant_id), world.services(), trigger="manual", opened_by="u1"
    )
    assert timeline(injection) == [
        ("isolate_session", "failed"),
        ("snapshot_conversation", "skipped"),
        ("propose_filter_update", "done"),
    ]
    leak = await run_playbook(
        "data_leakage",
        Subject(world.tenant_id, request_id="req-x"),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    assert timeline(leak) == [
        ("revoke_sessions", "failed"),
        ("revoke_api_keys", "failed"),
        ("list_queries", "failed"),
    ]
    assert injection.incident.status == leak.incident.status == "open"
    assert_recorded(world, leak)


async def test_a_step_that_raises_is_recorded_by_type_only(world: World) -> None:
    """A conversation store that cannot open the conversation's key (another KEK) is
    an error in the step: recorded failed, nothing of the content leaks."""
    from bastion.assistant.memory import Conversations
    from bastion.crypto import Keyring, LocalKeyProvider

    broken = Conversations(
        world.app_engine, Keyring(world.app_engine, LocalKeyProvider(bytes(32)), world.clock),
        world.clock,
    )  # fmt: skip
    report = await run_playbook(
        "injection",
        Subject(world.tenant_id, user_id=world.user_id, conversation_id=world.conversation_id),
        world.services(conversations=broken),
        trigger="manual",
        opened_by="u1",
    )
    snapshot = report.incident.step("snapshot_conversation")
    assert snapshot.status == "failed" and snapshot.reason is not None
    assert report.incident.step("isolate_session").detail["kind"] == "conversation"
    assert report.contained
    assert MARKER not in stored_text(world)


async def test_an_alert_opens_one_incident(world: World) -> None:
    """The same alert twice runs the playbook once."""
    alert = Alert(
        detector="injection_rate",
        severity="high",
        tenant_id=world.tenant_id,
        user_id=world.user_id,
        summary="many injections",
        evidence=(),
        request_ids=("req-1", "req-2"),
        window_start=NOW - timedelta(minutes=10),
        window_end=NOW,
        key="a" * 32,
    )
    subject = Subject.from_alert(alert)
    assert (subject.user_id, subject.request_id, subject.since) == (
        world.user_id,
        "req-2",
        alert.window_start,
    )
    first = await run_playbook(
        "data_leakage", subject, world.services(), trigger="alert",
        opened_by="detector:injection_rate", alert_key=alert.key,
    )  # fmt: skip
    second = await run_playbook(
        "data_leakage", subject, world.services(), trigger="alert",
        opened_by="detector:injection_rate", alert_key=alert.key,
    )  # fmt: skip
    assert first.created and not second.created
    assert second.incident.id == first.incident.id
    assert second.incident.steps == first.incident.steps
    assert first.incident.trigger == "alert" and first.incident.alert_key == alert.key


async def test_close_and_release_are_recorded(world: World) -> None:
    report = await run_playbook(
        "injection",
        Subject(world.tenant_id, session_id=world.session_ids[0]),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    services = world.services()
    session = world.session_ids[0]
    assert await release_isolation(services, world.tenant_id, "session", session, "u2")
    assert not await release_isolation(services, world.tenant_id, "session", session, "u2")
    isolations = Isolations(world.app_engine, world.clock)
    assert isolations.is_isolated(world.tenant_id, session_id=session) is None
    assert await close_incident(services, world.tenant_id, report.incident.id, "u2")
    assert not await close_incident(services, world.tenant_id, report.incident.id, "u2")
    outcomes = [r["outcome"] for r in incident_records(world, report.incident.id)]
    assert outcomes[-2:] == ["isolation_released", "incident_closed"]
    assert verify_chain(world.app_engine, world.tenant_id, sealer=world.sealer).ok


async def test_another_tenant_sees_no_incident_and_its_keys_are_untouched(world: World) -> None:
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, user_id=world.user_id),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    store = IncidentStore(world.app_engine, world.clock)
    assert store.list(world.other_tenant_id) == []
    assert [i.id for i in store.list(world.tenant_id)] == [report.incident.id]
    assert world.authenticate(world.other_key.secret).tenant_id == world.other_tenant_id
    other = await run_playbook(
        "compromised_credentials",
        Subject(world.other_tenant_id, user_id=world.user_id),  # a user of another tenant
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    assert other.incident.step("rotate_api_keys").detail["revoked"] == 0
    assert other.issued_keys == ()


def test_containment_steps_come_first_in_every_playbook() -> None:
    """Isolation and revocation run before anything is listed or proposed."""
    assert set(PLAYBOOKS) == {
        "injection",
        "data_leakage",
        "harmful_output",
        "compromised_credentials",
    }
    for playbook in PLAYBOOKS.values():
        phases = [step.phase for step in playbook.steps]
        assert phases == sorted(phases, key=lambda p: p != "contain"), playbook.name
        assert playbook.containment


def test_a_subject_from_an_audit_record_keeps_identifiers_only() -> None:
    record = {
        "tenant_id": "t1",
        "user_id": "u1",
        "key_id": "k1",
        "session_id": None,
        "request_id": "r1",
        "extra": {"conversation_id": "c1"},
        "prompt": [{"role": "user", "content": MARKER}],
        "verdicts": [verdict("input", "prompt_injection", "injection:hijack", MARKER + " x")],
    }
    subject = Subject.from_audit_record(record)
    assert subject == Subject(
        "t1", user_id="u1", key_id="k1", conversation_id="c1", request_id="r1",
        finding_types=("injection:hijack",),
    )  # fmt: skip
    with pytest.raises(ValueError, match="not an identifier") as caught:
        Subject("t1", user_id=MARKER + " with spaces")
    assert MARKER not in str(caught.value)


async def test_a_tampered_chain_fails_the_verification_step(world: World) -> None:
    """An audit record changed behind the log's back is reported, by seq; the
    credentials are contained all the same."""
    await world.record(request_id="req-a", session_id=None, key_id=world.keys[0].id)
    with world.engine.begin() as conn:
        conn.execute(
            update(AuditRecord)
            .where(AuditRecord.request_id == "req-a")
            .values(outcome="blocked_input")
        )
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, user_id=world.user_id),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    verified = report.incident.step("verify_audit_chain")
    assert (verified.status, verified.reason) == ("failed", "chain_broken")
    assert verified.detail["ok"] is False and verified.detail["seq"] == 1
    assert report.contained
