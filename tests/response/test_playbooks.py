"""The four playbooks end to end on SQLite and PostgreSQL, through Bastion's real
services: what each step really did, its timeline, and its audit records."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bastion.errors import AuthenticationFailed
from bastion.governance.audit import recorder
from bastion.governance.registry import ModelRegistry
from bastion.response import (
    IncidentStore,
    Isolations,
    Subject,
    run_playbook,
)
from bastion.secrets.store import DEPLOYMENT
from bastion.settings import ModelConfig
from tests.response.conftest import MARKER, NOW, SECRET_VALUE, World, verdict
from tests.response.playbook_checks import (
    assert_recorded,
    stored_text,
    timeline,
)

SOURCE = "5b0c7f6e-0d43-4a51-9a57-3c1f0f7e2a11"


async def test_injection_isolates_snapshots_and_proposes(world: World) -> None:
    """The session is isolated, the conversation kept sealed, a filter update proposed
    (not applied); the incident is contained."""
    await world.record(
        request_id="req-inj",
        session_id=world.session_ids[0],
        key_id=world.keys[0].id,
        verdicts=[verdict("input", "prompt_injection", "injection:hijack", "encoded:base64")],
        outcome="blocked_input",
    )
    subject = Subject(
        world.tenant_id,
        session_id=world.session_ids[0],
        conversation_id=world.conversation_id,
        request_id="req-inj",
    )
    report = await run_playbook(
        "injection", subject, world.services(), trigger="manual", opened_by=world.user_id
    )
    assert timeline(report) == [
        ("isolate_session", "done"),
        ("snapshot_conversation", "done"),
        ("propose_filter_update", "done"),
    ]
    assert report.contained and report.incident.user_id == world.user_id  # from the session
    isolations = Isolations(world.app_engine, world.clock)
    assert isolations.is_isolated(world.tenant_id, session_id=world.session_ids[0]) == (
        report.incident.id
    )
    assert isolations.is_isolated(world.tenant_id, session_id=world.session_ids[1]) is None
    snapshot = report.incident.step("snapshot_conversation")
    assert snapshot.detail["turns"] == 1 and snapshot.has_evidence
    opened = IncidentStore(world.app_engine, world.clock, world.keyring).open_evidence(
        world.tenant_id, report.incident.id, snapshot.id
    )
    assert opened["turns"] == [["user", f"ignore the rules {MARKER}"]]
    proposal = report.incident.step("propose_filter_update").detail
    assert proposal["applied"] is False
    assert proposal["finding_types"] == ["injection:hijack", "encoded:base64"]
    assert {"op": "set", "path": "scanners.prompt_injection.action", "value": "block"} in (
        proposal["proposal"]
    )
    assert {"op": "ensure_in", "path": "input", "value": "invisible_text"} in proposal["proposal"]
    assert world.policy_store.get("default")  # nothing was written: the tenant is unchanged
    assert world.directory.tenant(world.tenant_id)[1] == "default"
    assert MARKER not in stored_text(world) + repr(report)
    assert_recorded(world, report)


@pytest.mark.parametrize(
    ("given", "kind"),
    [({"conversation_id": "c-1", "key_id": "k-1"}, "conversation"), ({"key_id": "k-1"}, "key")],
)
async def test_injection_isolates_the_conversation_or_else_the_key(
    world: World, given: dict[str, str], kind: str
) -> None:
    """Without a session the conversation is isolated; without one either, the key."""
    subject = Subject(world.tenant_id, **given)  # type: ignore[arg-type]
    report = await run_playbook(
        "injection", subject, world.services(), trigger="manual", opened_by="u1"
    )
    isolated = report.incident.step("isolate_session").detail
    assert (isolated["kind"], isolated["ref"]) == (kind, given[f"{kind}_id"])
    found = Isolations(world.app_engine, world.clock).is_isolated(
        world.tenant_id, **{f"{kind}_id": given[f"{kind}_id"]}
    )
    assert found == report.incident.id


async def test_data_leakage_revokes_and_lists_the_sessions_queries(world: World) -> None:
    """Sessions and keys of the user stop working at once, in this process too; the
    session's queries and the data they reached are listed, identifiers only."""
    session = world.session_ids[0]
    access = {"source": SOURCE, "tables": ["salaries"], "status": "ran", "rows": 40}
    for n in range(3):
        await world.record(
            request_id=f"req-{n}",
            session_id=session,
            key_id=world.keys[0].id,
            data_sources=[access],
            verdicts=[verdict("output", "pii", "pii:EMAIL_ADDRESS")],
        )
    await world.record(request_id="req-other-session", session_id=world.session_ids[1], key_id="")
    world.clock.now = NOW + timedelta(minutes=5)
    for key in world.keys:  # warm the cache, as the gateway would
        assert world.authenticate(key.secret).user_id == world.user_id
    bob = world.identity.create_key("acme", "bob@acme.test", world.clock())
    report = await run_playbook(
        "data_leakage",
        Subject(world.tenant_id, session_id=session),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    assert timeline(report) == [
        ("revoke_sessions", "done"),
        ("revoke_api_keys", "done"),
        ("list_queries", "done"),
    ]
    assert report.contained
    assert report.incident.step("revoke_sessions").detail["revoked"] == 2
    assert world.sessions.open_sessions(world.tenant_id, world.user_id) == []
    assert report.incident.step("revoke_api_keys").detail["revoked"] == 2
    for key in world.keys:
        with pytest.raises(AuthenticationFailed):
            world.authenticate(key.secret)
    assert world.authenticate(bob.secret).user_email == "bob@acme.test"  # a bystander
    listed = report.incident.step("list_queries").detail
    assert (listed["scope"], listed["ref"], listed["queries"]) == ("session", session, 3)
    assert listed["request_ids"] == ["req-0", "req-1", "req-2"]
    assert listed["data_sources"] == [
        {"source": SOURCE, "accesses": 3, "ran": 3, "rows": 120, "tables": ["salaries"]}
    ]
    assert listed["rows_exposed"] == 120 and listed["finding_types"] == ["pii:EMAIL_ADDRESS"]
    assert MARKER not in stored_text(world)
    assert_recorded(world, report)


async def test_harmful_output_applies_an_output_rule(world: World) -> None:
    """The rule is written as the tenant's next policy version, which the gateway's
    policy store loads; the interaction is flagged; no registry to roll back with."""
    await world.record(
        request_id="req-harm",
        session_id=None,
        key_id=world.keys[0].id,
        verdicts=[
            verdict("output", "pii", "pii:US_SSN"),
            verdict("output", "secrets", "aws_access_key"),
            verdict("input", "pii", "pii:EMAIL_ADDRESS"),  # input: no output rule from it
        ],
        outcome="redacted",
    )
    report = await run_playbook(
        "harmful_output",
        Subject(world.tenant_id, key_id=world.keys[0].id, request_id="req-harm"),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    assert timeline(report) == [
        ("add_output_rule", "done"),
        ("flag_interaction", "done"),
        ("rollback_model", "skipped"),
    ]
    assert report.contained
    rule = report.incident.step("add_output_rule").detail
    name = world.directory.tenant(world.tenant_id)[1]
    assert rule["applied"] is True and rule["policy"] == name == f"@{world.tenant_id}:1"
    policy = world.policy_store.get(name).policy
    assert policy.scanners["pii"]["entities"] == {"US_SSN": {"to_user": "block"}}
    assert policy.scanners["secrets"]["output_action"] == "block"
    assert "EMAIL_ADDRESS" not in json.dumps(rule["rule"])
    assert policy.system_prompt == world.policy_store.get("default").policy.system_prompt
    flagged = report.incident.step("flag_interaction").detail
    assert flagged["request_id"] == "req-harm" and flagged["outcome"] == "redacted"
    assert report.incident.step("rollback_model").reason == "rollback_not_allowed"
    assert_recorded(world, report)
    again = await run_playbook(
        "harmful_output",
        Subject(world.tenant_id, request_id="req-harm"),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    assert again.incident.step("add_output_rule").detail["already_in_force"] is True
    assert world.directory.tenant(world.tenant_id)[1] == name  # no empty new version


async def test_harmful_output_rolls_the_model_back_where_the_registry_allows(
    world: World,
) -> None:
    """With the deployment's leave (a registry given), the interaction's model goes back
    one version, recorded in the deployment's chain; without an earlier version, or for
    a model the registry does not know, the step says why and changes nothing."""
    registry = ModelRegistry(world.app_engine, world.clock, recorder(world.app_engine, None))
    for upstream in ("m-2024-08-06", "m-2024-11-20"):
        registry.register(
            ModelConfig(
                name="gpt-test", base_url="https://api.example/v1", upstream_model=upstream
            ),
            actor="cli",
        )
    await world.record(request_id="req-harm", session_id=None, key_id=world.keys[0].id)
    subject = Subject(world.tenant_id, request_id="req-harm")
    services = world.services(models=registry)
    report = await run_playbook(
        "harmful_output", subject, services, trigger="manual", opened_by="u1"
    )
    step = report.incident.step("rollback_model")
    assert (step.status, step.detail["from_version"], step.detail["to_version"]) == ("done", 2, 1)
    assert [v.upstream_model for v in registry.current()] == ["m-2024-08-06"]
    again = await run_playbook(
        "harmful_output", subject, services, trigger="manual", opened_by="u1"
    )
    assert again.incident.step("rollback_model").reason == "no_earlier_version"
    assert [v.version for v in registry.current()] == [1]
    assert_recorded(world, report)


async def test_harmful_output_without_a_rule_it_can_express_stays_open(world: World) -> None:
    """Findings the policy format has no output rule for are recorded, not guessed at."""
    subject = Subject(world.tenant_id, finding_types=("toxicity:insult",))
    report = await run_playbook(
        "harmful_output", subject, world.services(), trigger="manual", opened_by="u1"
    )
    assert timeline(report) == [
        ("add_output_rule", "skipped"),
        ("flag_interaction", "skipped"),
        ("rollback_model", "skipped"),
    ]
    assert report.incident.step("add_output_rule").reason == "no_applicable_rule"
    assert report.incident.status == "open"
    assert world.directory.tenant(world.tenant_id)[1] == "default"
    assert_recorded(world, report)


async def test_compromised_credentials_rotates_everything_it_can(world: World) -> None:
    """Old keys fail and their replacements work (same names); sessions end; the new
    upstream key is stored sealed and the gateway told; activity listed; chain ok.
    No new secret is stored in clear or recorded anywhere."""
    await world.record(request_id="req-a", session_id=None, key_id=world.keys[0].id)
    world.secrets.put("openai-prod", "sk-upstream-OLD", kind="upstream_api_key")
    reloaded: list[tuple[str, ...]] = []
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, key_id=world.keys[1].id),
        world.services(rotate_upstream=reloaded.append),
        trigger="manual",
        opened_by="u1",
        upstream_values={"openai-prod": SECRET_VALUE},
    )
    assert timeline(report) == [
        ("rotate_api_keys", "done"),
        ("revoke_sessions", "done"),
        ("rotate_upstream_keys", "done"),
        ("list_activity", "done"),
        ("verify_audit_chain", "done"),
    ]
    assert report.contained
    for key in world.keys:
        with pytest.raises(AuthenticationFailed):
            world.authenticate(key.secret)
    assert len(report.issued_keys) == 2
    for new in report.issued_keys:
        assert world.authenticate(new.secret).user_id == world.user_id
    names = sorted(k.name for k in world.directory.keys(world.tenant_id, world.user_id)
                   if k.status(world.clock()) == "active")  # fmt: skip
    assert names == ["ci", "laptop"]
    assert world.sessions.open_sessions(world.tenant_id, world.user_id) == []
    upstream = report.incident.step("rotate_upstream_keys").detail
    assert upstream["stored"] == ["openai-prod"] and upstream["not_rotated"] == ["anthropic-prod"]
    assert world.secrets.get("openai-prod", tenant_id=DEPLOYMENT) == SECRET_VALUE
    assert reloaded == [("openai-prod",)]
    activity = report.incident.step("list_activity").detail
    assert (activity["scope"], activity["queries"]) == ("user", 1)
    assert report.incident.step("verify_audit_chain").detail["ok"] is True
    clear = stored_text(world) + repr(report) + repr(report.issued_keys)
    for secret in (SECRET_VALUE, *(k.secret for k in report.issued_keys)):
        assert secret not in clear
    assert_recorded(world, report)


async def test_upstream_rotation_without_new_values_names_what_needs_them(world: World) -> None:
    report = await run_playbook(
        "compromised_credentials",
        Subject(world.tenant_id, user_id=world.user_id),
        world.services(),
        trigger="manual",
        opened_by="u1",
    )
    upstream = report.incident.step("rotate_upstream_keys")
    assert (upstream.status, upstream.reason) == ("skipped", "new_values_required")
    assert upstream.detail["secrets"] == ["anthropic-prod", "openai-prod"]
    assert report.contained  # the user's own credentials are contained
