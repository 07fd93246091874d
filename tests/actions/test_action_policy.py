"""A tenant's ``[actions]`` table: deny by default, every key checked at load time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bastion.actions.builtin import builtin_actions
from bastion.actions.policy import parse_action_policy
from bastion.actions.registry import Tier
from bastion.gateway.policies import resolve_policy
from bastion.policy import parse_policy
from bastion.scanners import default_registry

TICKETS = {"source": "helpdesk"}


def parse(table: dict[str, Any]) -> Any:
    return parse_action_policy(table, builtin_actions())


def test_nothing_is_offered_until_enabled() -> None:
    policy = parse({})
    assert policy.enabled == () and policy.registry.openai_tools("owner") == []
    assert policy.notify_url is None


def test_an_enabled_table_gives_its_registry_tiers_and_settings() -> None:
    policy = parse(
        {
            "enabled": ["create_ticket", "send_email"],
            "tiers": {"create_ticket": 3},
            "confirm_ttl_minutes": 5,
            "notify_url": "https://hooks.corp.example/approvals",
            "create_ticket": TICKETS,
            "send_email": {"allowed_domains": ["corp.example"]},
        }
    )
    assert policy.enabled == ("create_ticket", "send_email")
    assert policy.registry.resolve("create_ticket", policy.tier_table()).tier is Tier.APPROVE
    assert policy.ttl(Tier.CONFIRM) == timedelta(minutes=5)
    assert policy.ttl(Tier.APPROVE) == timedelta(minutes=1440)
    names = [t["function"]["name"] for t in policy.registry.openai_tools("member")]
    assert names == ["create_ticket", "send_email"]
    assert policy.registry.openai_tools("viewer") == []  # no actions.use


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"enabled": ["launch_missiles"]}, "unknown action"),
        ({"enabled": "create_ticket"}, "list of action names"),
        ({"enabled": ["get_ticket", "get_ticket"], "get_ticket": TICKETS}, "twice"),
        ({"surprise": 1}, "unknown key"),
        ({"enabled": ["send_email"]}, "actions.send_email.allowed_domains"),
        ({"enabled": ["create_ticket"]}, "actions.create_ticket.source"),
        ({"create_ticket": TICKETS}, "not in actions.enabled"),
        ({"enabled": ["update_record"], "tiers": {"update_record": 2}}, "below the tool's floor"),
        (
            {"enabled": ["get_ticket"], "get_ticket": TICKETS, "tiers": {"get_ticket": 0}},
            "1 (AUTO)",
        ),
        (
            {"enabled": ["get_ticket"], "get_ticket": TICKETS, "tiers": {"send_email": 3}},
            "not enabled",
        ),
        ({"confirm_ttl_minutes": 0}, "whole minutes"),
        ({"approval_ttl_minutes": True}, "whole minutes"),
        ({"notify_url": "ftp://hooks.example/x"}, "http(s) URL"),
        ({"notify_url": "https://user:pw@hooks.example/x"}, "no credentials"),
        (
            {
                "enabled": ["call_webhook"],
                "call_webhook": {"targets": {"ops": "file:///etc/passwd"}},
            },
            "actions.call_webhook.targets",
        ),
        (
            {"enabled": ["create_ticket"], "create_ticket": {**TICKETS, "table": "t; DROP"}},
            "actions.create_ticket.table",
        ),
    ],
)
def test_a_bad_table_is_a_policy_error_naming_the_key(table: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match="actions") as caught:
        parse(table)
    assert says in str(caught.value)
    assert "passwd" not in str(caught.value) and "pw@" not in str(caught.value)


def test_the_policy_file_carries_the_table_and_fails_closed_when_bad() -> None:
    good = parse_policy(
        '[actions]\nenabled = ["get_ticket"]\n[actions.get_ticket]\nsource = "helpdesk"\n',
        "p",
        "test",
    )
    resolved = resolve_policy(good, default_registry())
    assert resolved.actions.enabled == ("get_ticket",)
    bad = parse_policy('[actions]\nenabled = ["get_ticket"]\n', "p", "test")
    with pytest.raises(ValueError, match="get_ticket"):
        resolve_policy(bad, default_registry())
