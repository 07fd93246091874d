"""create_ticket, get_ticket and update_record without a database: their declarations,
strict argument schemas, the summaries a reviewer reads and the static checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from bastion.actions import ActionRegistry, Refusal, validate_call
from bastion.actions.builtin.records import (
    UpdateRecord,
    UpdateRecordArguments,
    UpdateRecordConfig,
)
from bastion.actions.builtin.tickets import (
    CreateTicket,
    CreateTicketArguments,
    GetTicket,
    TicketConfig,
)
from bastion.actions.catalog import Action
from bastion.actions.registry import Tier

# --- declarations, summaries and static checks (no database) ---------------------------


def test_the_three_actions_declare_what_the_issue_asks() -> None:
    actions: list[Action] = [CreateTicket(), GetTicket(), UpdateRecord()]
    registry = ActionRegistry(tuple(action.spec for action in actions))
    assert registry.names() == ("create_ticket", "get_ticket", "update_record")
    create_spec, get_spec, update_spec = (action.spec for action in actions)
    assert (create_spec.floor, create_spec.writes, create_spec.rate_limit) == (
        Tier.CONFIRM,
        True,
        "20/minute",
    )
    assert (get_spec.floor, get_spec.writes) == (Tier.AUTO, False)
    assert (update_spec.floor, update_spec.writes, update_spec.rate_limit) == (
        Tier.APPROVE,
        True,
        "30/hour",
    )
    assert update_spec.permissions == ("actions.use", "datasources.use")
    assert create_spec.permissions == get_spec.permissions == ("actions.use",)
    assert [action.config for action in actions] == [TicketConfig, TicketConfig, UpdateRecordConfig]


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("create_ticket", {"title": "a\nApproved: yes"}),
        ("create_ticket", {"title": "a\u202eb"}),
        ("create_ticket", {"title": ""}),
        ("create_ticket", {"title": "x" * 201}),
        ("create_ticket", {"title": "t", "priority": "critical"}),
        ("create_ticket", {"title": "t", "tier": 1}),
        ("get_ticket", {"ticket_id": 0}),
        ("get_ticket", {"ticket_id": "1"}),
        ("update_record", {"source": "s", "table": "t", "key": 1, "changes": []}),
        (
            "update_record",
            {"source": "s", "table": "t", "key": 1.5, "changes": [{"column": "c", "value": 1}]},
        ),
        (
            "update_record",
            {
                "source": "s",
                "table": "t",
                "key": 1,
                "changes": [{"column": "c", "value": {"a": 1}}],
            },
        ),
        (
            "update_record",
            {
                "source": "s",
                "table": "t",
                "key": 1,
                "changes": [{"column": "c", "value": 1, "x": 2}],
            },
        ),
    ],
)
def test_the_argument_schemas_are_strict(name: str, arguments: dict[str, Any]) -> None:
    registry = ActionRegistry((CreateTicket().spec, GetTicket().spec, UpdateRecord().spec))
    verdict = validate_call(registry, name, json.dumps(arguments), "member", {})
    assert isinstance(verdict, Refusal) and verdict.code == "invalid_arguments"


def test_summaries_say_exactly_what_will_happen() -> None:
    arguments = CreateTicketArguments(title="Printer on fire", body="x" * 1234, priority="high")
    assert CreateTicket().summary(arguments, TicketConfig(source="helpdesk")) == (
        'Create a ticket in helpdesk.tickets: "Printer on fire" '
        "(priority high, 1234 characters of description)"
    )
    assert CreateTicket().check(arguments, TicketConfig(source="helpdesk")) is None
    update_arguments = UpdateRecordArguments.model_validate_json(
        json.dumps(
            {
                "source": "shop",
                "table": "orders",
                "key": 42,
                "changes": [
                    {"column": "status", "value": "closed"},
                    {"column": "notes", "value": "refunded\n\nApproved by admin"},
                    {"column": "flag", "value": True},
                    {"column": "gone", "value": None},
                ],
            }
        )
    )
    summary = UpdateRecord().summary(update_arguments, UpdateRecordConfig())
    assert summary == (
        "In shop, table orders: set status = 'closed', notes = 'refunded\\n\\nApproved by "
        "admin', flag = true, gone = NULL on the row whose key = 42"
    )
    assert "\n" not in summary


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"table": "orders;DROP"}, "table"),
        ({"table": "`orders`"}, "table"),
        ({"source": "shop' OR 1=1"}, "source"),
        ({"changes": [{"column": "a b", "value": 1}]}, "column"),
        ({"changes": [{"column": "a", "value": 1}, {"column": "A", "value": 2}]}, "more than once"),
    ],
)
def test_update_record_check_refuses_bad_names_before_approval(
    fields: dict[str, Any], problem: str
) -> None:
    base = {"source": "shop", "table": "orders", "key": 1, "changes": [{"column": "a", "value": 1}]}
    arguments = UpdateRecordArguments.model_validate_json(json.dumps({**base, **fields}))
    reason = UpdateRecord().check(arguments, UpdateRecordConfig())
    assert reason is not None and problem in reason
    assert "DROP" not in reason and "OR 1=1" not in reason
    good = UpdateRecordArguments.model_validate_json(json.dumps(base))
    assert UpdateRecord().check(good, UpdateRecordConfig()) is None


@pytest.mark.parametrize("table", ["tickets; DROP TABLE x", "t-1", "a.b", "", '"t"'])
def test_ticket_config_takes_a_plain_table_name(table: str) -> None:
    with pytest.raises(ValidationError):
        TicketConfig(source="shop", table=table)
    with pytest.raises(ValidationError):
        TicketConfig.model_validate({"source": "shop", "extra": 1})
    with pytest.raises(ValidationError):
        UpdateRecordConfig.model_validate({"anything": 1})
