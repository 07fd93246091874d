"""The action store on SQLite and PostgreSQL: sealed calls, single-use claims, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from bastion.actions.registry import Tier
from bastion.actions.store import (
    ActionIntegrityError,
    ActionNotFound,
    ActionRecord,
    ActionStore,
    SealedCall,
)
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.identity import IdentityService
from bastion.store.schema import AgentActionRow

KEK = bytes(range(40, 72))
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MARKER = "MARKER-ceo-salary-9f2c"


def clock() -> datetime:
    return NOW


def store(engine: Engine) -> ActionStore:
    return ActionStore(engine, Keyring(engine, LocalKeyProvider(KEK), clock), clock)


def tenant(engine: Engine, name: str = "acme") -> str:
    tenant_id, _ = IdentityService(engine).ensure_tenant(name, NOW)
    return tenant_id


def pending(
    actions: ActionStore, tenant_id: str, *, tier: Tier = Tier.APPROVE, minutes: int = 60
) -> ActionRecord:
    return actions.create(
        tenant_id=tenant_id,
        requester_id="user-ana",
        conversation_id="conv-1",
        tool="send_email",
        tier=tier,
        action_hash="a" * 64,
        call=SealedCall('{"subject":"' + MARKER + '"}', f"Send {MARKER}"),
        status="pending",
        expires_at=NOW + timedelta(minutes=minutes),
    )


def test_the_call_is_sealed_and_opens_only_in_its_own_row(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id)
    assert actions.open_call(record).summary == f"Send {MARKER}"
    with engine.connect() as conn:
        raw = conn.execute(select(AgentActionRow.sealed)).scalar_one()
    assert MARKER.encode() not in raw
    assert MARKER not in repr(record) + repr(actions.open_call(record))
    other = pending(actions, tenant_id)
    with engine.begin() as conn:
        conn.execute(update(AgentActionRow).where(AgentActionRow.id == other.id).values(sealed=raw))
    with pytest.raises(ActionIntegrityError):
        actions.open_call(actions.get(tenant_id, other.id))


def test_a_detail_blob_cannot_stand_in_for_the_call(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id, tier=Tier.AUTO)
    with engine.begin() as conn:
        conn.execute(
            update(AgentActionRow).where(AgentActionRow.id == record.id).values(status="running")
        )
    actions.finish(
        tenant_id, record.id, ok=True, code="done", message="sent", detail={"n": 1}, now=NOW
    )
    done = actions.get(tenant_id, record.id)
    assert done.status == "succeeded" and actions.open_detail(done) == {"n": 1}
    with engine.begin() as conn:
        conn.execute(
            update(AgentActionRow)
            .where(AgentActionRow.id == record.id)
            .values(sealed=done.sealed_detail)
        )
    with pytest.raises(ActionIntegrityError):
        actions.open_call(actions.get(tenant_id, record.id))


def test_another_tenant_does_not_see_the_action(engine: Engine) -> None:
    actions = store(engine)
    record = pending(actions, tenant(engine, "acme"))
    globex = tenant(engine, "globex")
    with pytest.raises(ActionNotFound):
        actions.get(globex, record.id)
    assert actions.listing(globex) == []
    with pytest.raises(ActionNotFound):
        actions.get(globex, "not-a-uuid")


def test_a_claim_needs_the_hash_the_tier_time_and_a_different_person(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id)

    def claim(**changes: object) -> bool:
        args: dict[str, object] = {
            "action_hash": "a" * 64,
            "decided_by": "user-val",
            "tier": Tier.APPROVE,
            "now": NOW,
            "other_than_requester": True,
        }
        args.update(changes)
        return actions.claim(tenant_id, record.id, **args)  # type: ignore[arg-type]

    assert not claim(action_hash="b" * 64)
    assert not claim(tier=Tier.CONFIRM)
    assert not claim(decided_by="user-ana")  # the requester
    assert not claim(now=NOW + timedelta(minutes=61))  # expired
    assert claim()
    assert not claim(decided_by="user-vic")  # used once
    assert actions.get(tenant_id, record.id).status == "running"


def test_a_confirmation_is_the_requesters_alone(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id, tier=Tier.CONFIRM)
    common = {"action_hash": "a" * 64, "tier": Tier.CONFIRM, "now": NOW}
    assert not actions.claim(
        tenant_id, record.id, decided_by="user-bo", other_than_requester=False, **common
    )
    assert actions.claim(
        tenant_id, record.id, decided_by="user-ana", other_than_requester=False, **common
    )


def test_of_many_racing_approvers_exactly_one_wins(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id)
    wins: list[bool] = []
    barrier = threading.Barrier(6)

    def approve(n: int) -> None:
        barrier.wait()
        wins.append(
            actions.claim(
                tenant_id,
                record.id,
                action_hash="a" * 64,
                decided_by=f"user-{n}",
                tier=Tier.APPROVE,
                now=NOW,
                other_than_requester=True,
            )
        )

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(wins) == [False] * 5 + [True]


def test_reject_and_expire_only_from_pending_at_the_right_time(engine: Engine) -> None:
    actions, tenant_id = store(engine), tenant(engine)
    record = pending(actions, tenant_id, minutes=10)
    later = NOW + timedelta(minutes=11)
    assert not actions.close(tenant_id, record.id, "expired", decided_by=None, now=NOW)
    assert not actions.close(tenant_id, record.id, "rejected", decided_by="u", now=later)
    assert actions.get(tenant_id, record.id).shown_status(later) == "expired"
    assert actions.close(tenant_id, record.id, "expired", decided_by=None, now=later)
    assert not actions.close(tenant_id, record.id, "expired", decided_by=None, now=later)
    fresh = pending(actions, tenant_id)
    assert actions.close(tenant_id, fresh.id, "rejected", decided_by="user-val", now=NOW)
    assert actions.get(tenant_id, fresh.id).status == "rejected"
    listed = actions.listing(tenant_id, statuses=("pending",))
    assert listed == []
