"""The write guard's planner and the ``writable``/``key`` options, without a database:
what may be written, by which key, and how the statement is built."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.datasources._guard_policy import TableRule
from bastion.datasources._guard_write import MAX_CHANGES, PlanRefused, plan_update
from bastion.datasources._source_config import parse_config, rules_for
from bastion.datasources.sources import SourceConfig, SourceError
from bastion.datasources.writer import WritePlan
from tests.datasources.test_writes import TABLES

# --- the planner, without a database ---------------------------------------------------

RULES = rules_for(parse_config("postgres", {"tables": TABLES}), "u1", "admin")


@pytest.mark.parametrize(
    ("table", "changes", "reason"),
    [
        ("secret", [("status", "x")], "unknown_table"),
        ("orders; DROP TABLE orders", [("status", "x")], "bad_identifier"),
        ('orders"', [("status", "x")], "bad_identifier"),
        ("orders", [("region", "x")], "column_not_writable"),
        ("orders", [("email", "x")], "column_not_writable"),
        ("orders", [("id", 5)], "key_not_writable"),
        ("orders", [("ID", 5)], "key_not_writable"),
        ("orders", [("status", "x"), ("Status", "y")], "duplicate_column"),
        ("orders", [('status" = 1, "region', "x")], "bad_identifier"),
        ("orders", [("status = 'x' --", "x")], "bad_identifier"),
        ("orders", [], "no_changes"),
        ("orders", [("status", "x")] * (MAX_CHANGES + 1), "too_many_changes"),
        ("orders", [("status", float("nan"))], "bad_value"),
    ],
)
def test_the_planner_refuses(table: str, changes: list[tuple[str, Any]], reason: str) -> None:
    refused = plan_update("postgres", RULES, table, 1, changes, {"user_id": "u1"})
    assert refused == PlanRefused(reason)


def test_masked_or_hidden_columns_and_unwritable_tables_are_refused() -> None:
    writable_masked = {
        "orders": TableRule(
            frozenset({"id", "status"}),
            writable=frozenset({"status"}),
            key="id",
            masked=frozenset({"status"}),
        )
    }
    assert plan_update(
        "sqlite", writable_masked, "orders", 1, [("status", "x")], {}
    ) == PlanRefused("column_not_writable")
    hidden = {"orders": TableRule(frozenset({"id"}), writable=frozenset({"status"}), key="id")}
    assert plan_update("sqlite", hidden, "orders", 1, [("status", "x")], {}) == PlanRefused(
        "column_not_writable"
    )
    hidden_key = {
        "orders": TableRule(frozenset({"status"}), writable=frozenset({"status"}), key="id")
    }
    assert plan_update("sqlite", hidden_key, "orders", 1, [("status", "x")], {}) == PlanRefused(
        "not_writable"
    )
    for rule in (TableRule(), TableRule(writable=frozenset({"status"})), TableRule(key="id")):
        assert plan_update("mysql", {"orders": rule}, "orders", 1, [("status", "x")], {}) == (
            PlanRefused("not_writable")
        )


def test_the_row_filter_is_bound_and_a_missing_attribute_refuses() -> None:
    member = rules_for(parse_config("postgres", {"tables": TABLES}), "u1", "member")
    refused = plan_update("postgres", member, "orders", 1, [("status", "x")], {"user_id": "u1"})
    assert refused == PlanRefused("missing_attribute")
    planned = plan_update(
        "postgres", member, "orders", 1, [("status", "x")], {"user_id": "u1", "region": "n'th"}
    )
    assert isinstance(planned, WritePlan)
    assert planned.sql == (
        'UPDATE "orders" SET "status" = %(p1)s WHERE "id" = %(p0)s AND ("region" = \'n\'\'th\')'
    )
    assert planned.params == {"p0": 1, "p1": "x"}
    assert "x" not in repr(planned) and "UPDATE" not in repr(planned)


# --- the config options ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"writable": ["status"]}, "need a key"),
        ({"writable": ["status"], "key": "status"}, "key column may not be writable"),
        ({"columns": ["id"], "writable": ["status"], "key": "id"}, "among columns"),
        ({"columns": ["id", "s"], "masked": ["s"], "writable": ["s"], "key": "id"}, "masked"),
        ({"writable": ['status"'], "key": "id"}, "plain identifier"),
        ({"writable": ["status", "STATUS"], "key": "id"}, "twice"),
        ({"writable": ["status"], "key": "id; DROP"}, "plain identifier"),
        ({"roles": {"member": {"key": "other"}}}, "Extra inputs"),
    ],
)
def test_bad_write_options_are_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_config("sqlite", {"tables": {"orders": table}})


def test_a_narrowing_can_only_remove_writable_columns() -> None:
    config = parse_config(
        "postgres",
        {
            "tables": {
                "orders": {
                    "writable": ["status", "notes"],
                    "key": "id",
                    "roles": {"member": {"writable": ["notes", "region"]}},
                    "users": {"u2": {"writable": []}},
                }
            }
        },
    )
    assert rules_for(config, "u1", "admin")["orders"].writable == {"status", "notes"}
    assert rules_for(config, "u1", "member")["orders"].writable == {"notes"}
    assert rules_for(config, "u2", "admin")["orders"].writable == frozenset()
    assert rules_for(config, "u1", "member")["orders"].key == "id"
    plain = SourceConfig.model_validate({"tables": {"orders": {}}})
    assert rules_for(plain, "u1", "admin")["orders"].writable == frozenset()
