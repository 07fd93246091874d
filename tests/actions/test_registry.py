"""The action registry: unsafe declarations are refused, tenants only raise tiers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

import bastion.actions
from bastion.actions import (
    ActionRegistry,
    ActionSpec,
    ActionSpecError,
    Tier,
    TierPolicyError,
    UnknownAction,
)
from tests.actions.examples import (
    CREATE_TICKET,
    LOOKUP_ORDER,
    SEND_EMAIL,
    SPECS,
    STRICT,
    CreateTicket,
    LookupOrder,
    registry,
)


def spec(**overrides: Any) -> ActionSpec:
    fields: dict[str, Any] = {
        "name": "lookup_order",
        "description": "Look up one order.",
        "arguments": LookupOrder,
        "floor": Tier.AUTO,
        "writes": False,
        "permissions": ("chat",),
        "rate_limit": None,
    }
    return ActionSpec(**(fields | overrides))


def test_public_names_are_pinned() -> None:
    """The package exports exactly these (constants first, as ruff sorts them)."""
    assert bastion.actions.__all__ == [
        "MAX_ARGUMENT_BYTES",
        "ActionRegistry",
        "ActionSpec",
        "ActionSpecError",
        "Refusal",
        "ResolvedAction",
        "Tier",
        "TierPolicyError",
        "UnknownAction",
        "ValidatedCall",
        "action_hash",
        "validate_call",
    ]


def test_tiers_are_one_to_three() -> None:
    """AUTO < CONFIRM < APPROVE, numbered as in the issue."""
    assert [(t.name, int(t)) for t in Tier] == [("AUTO", 1), ("CONFIRM", 2), ("APPROVE", 3)]


def test_the_examples_register() -> None:
    """Well-formed specs register and are listed by name."""
    reg = registry()
    assert reg.names() == tuple(sorted(s.name for s in SPECS))
    assert reg.get("send_email") is SEND_EMAIL
    assert reg.get("nope") is None


@pytest.mark.parametrize("floor", [Tier.CONFIRM, Tier.APPROVE, 2, 3])
def test_a_writing_action_needs_confirmation_at_least(floor: int) -> None:
    """writes=True is accepted with a floor of CONFIRM or APPROVE (ints become Tiers)."""
    made = spec(writes=True, floor=floor)
    assert made.floor is Tier(floor)


def test_a_writing_action_cannot_run_automatically() -> None:
    """writes=True with floor AUTO is refused."""
    with pytest.raises(ActionSpecError, match="writes, so its floor must be CONFIRM"):
        ActionRegistry().register(spec(writes=True, floor=Tier.AUTO))


@pytest.mark.parametrize("floor", [0, 4, -1, True, "3", None, 2.0])
def test_a_floor_outside_the_tiers_is_refused(floor: object) -> None:
    """Only 1, 2 and 3 are tiers; True is not AUTO."""
    with pytest.raises(ActionSpecError, match="floor must be 1"):
        spec(floor=floor)


@pytest.mark.parametrize("writes", [1, 0, "yes", None])
def test_read_or_write_is_explicit(writes: object) -> None:
    """writes must be a bool, not something truthy."""
    with pytest.raises(ActionSpecError, match="writes must be True or False"):
        spec(writes=writes)


@pytest.mark.parametrize(
    "permissions",
    [("chat", "actions.run"), ("admin",), ("",), ("Chat",)],
)
def test_an_unknown_permission_is_refused(permissions: tuple[str, ...]) -> None:
    """Every permission must be one bastion.authz knows."""
    with pytest.raises(ActionSpecError, match="unknown permission"):
        spec(permissions=permissions)


@pytest.mark.parametrize("permissions", [(), ["chat"], "chat", None])
def test_permissions_are_a_non_empty_tuple(permissions: object) -> None:
    """An action nobody is granted would be open to everyone: refused."""
    with pytest.raises(ActionSpecError, match="non-empty tuple"):
        spec(permissions=permissions)


@pytest.mark.parametrize(
    "name",
    ["", "Create", "1ticket", "_ticket", "create-ticket", "create ticket", "a" * 65, "tï", None],
)
def test_a_bad_name_is_refused(name: object) -> None:
    """Names are lower-case identifiers of at most 64 characters."""
    with pytest.raises(ActionSpecError, match="action name must match"):
        spec(name=name)


def test_the_longest_name_is_accepted() -> None:
    """The near miss: 64 characters is fine."""
    assert spec(name="a" * 64).name == "a" * 64


@pytest.mark.parametrize("description", ["", "   ", "x" * 1025, None])
def test_a_bad_description_is_refused(description: object) -> None:
    """The description is what the model reads: non-empty and bounded."""
    with pytest.raises(ActionSpecError, match="description"):
        spec(description=description)


class AllowsExtras(BaseModel):
    model_config = ConfigDict(strict=True)
    order_id: int


class IgnoresExtras(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    order_id: int


class Lax(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: int


class Loose(BaseModel):  # nested model without extra="forbid"
    a: int


class NestedLoose(BaseModel):
    model_config = STRICT
    inner: Loose


class NestedLooseOptional(BaseModel):
    model_config = STRICT
    inner: list[Loose | None] = []


class FreeMap(BaseModel):
    model_config = STRICT
    fields: dict[str, str]


class Untyped(BaseModel):
    model_config = STRICT
    anything: Any


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (AllowsExtras, "must set ConfigDict"),
        (IgnoresExtras, "must set ConfigDict"),
        (Lax, "must set ConfigDict"),
        (NestedLoose, "Loose accepts extra keys"),
        (NestedLooseOptional, "Loose accepts extra keys"),
        (FreeMap, "free-form maps are not allowed"),
        (Untyped, "has no type"),
        (dict, "pydantic model class"),
        (CreateTicket(title="t", body="b"), "pydantic model class"),
    ],
)
def test_a_schema_that_lets_anything_through_is_refused(model: Any, message: str) -> None:
    """Extras at any depth, free-form maps, Any and non-strict models are refused."""
    with pytest.raises(ActionSpecError, match=message):
        spec(arguments=model)


@pytest.mark.parametrize("rate_limit", ["10/minute", "10 per minute", "100/hour;10/minute"])
def test_a_rate_limit_in_the_limits_format_is_accepted(rate_limit: str) -> None:
    """limits' string format, one or several."""
    assert spec(rate_limit=rate_limit).rate_limit == rate_limit


@pytest.mark.parametrize(
    ("rate_limit", "message"),
    [
        ("ten a minute", "is not a rate limit"),
        ("10/minute;bogus", "is not a rate limit"),
        ("", "is not a rate limit"),
        ("0/minute", "at least 1"),
        (10, "must be a string"),
    ],
)
def test_a_bad_rate_limit_is_refused(rate_limit: object, message: str) -> None:
    """A limit that cannot be enforced, or allows nothing, is a declaration error."""
    with pytest.raises(ActionSpecError, match=message):
        spec(rate_limit=rate_limit)


def test_a_duplicate_name_is_refused() -> None:
    """A second spec may not replace the first."""
    reg = registry()
    with pytest.raises(ActionSpecError, match="already registered"):
        reg.register(spec(name="send_email", floor=Tier.APPROVE, writes=True))
    assert reg.get("send_email") is SEND_EMAIL


def test_register_takes_only_specs() -> None:
    """Not a dict that looks like one."""
    with pytest.raises(ActionSpecError):
        ActionRegistry().register({"name": "x"})  # type: ignore[arg-type]


def test_reprs_are_short() -> None:
    """Reprs name the action and tier, nothing else."""
    assert repr(CREATE_TICKET) == "ActionSpec(name='create_ticket', floor=CONFIRM, writes=True)"
    assert repr(registry().resolve("send_email", {})) == (
        "ResolvedAction(name='send_email', tier=APPROVE)"
    )


def test_without_tenant_settings_the_floor_applies() -> None:
    """An empty tier table leaves every tool at its floor."""
    reg = registry()
    assert {n: reg.resolve(n, {}).tier for n in reg.names()} == {s.name: s.floor for s in SPECS}


@pytest.mark.parametrize(
    ("name", "setting", "tier"),
    [
        ("lookup_order", 1, Tier.AUTO),
        ("lookup_order", 2, Tier.CONFIRM),
        ("lookup_order", 3, Tier.APPROVE),
        ("create_ticket", 2, Tier.CONFIRM),
        ("create_ticket", 3, Tier.APPROVE),
        ("send_email", 3, Tier.APPROVE),
    ],
)
def test_a_tenant_may_raise_a_tier(name: str, setting: int, tier: Tier) -> None:
    """The effective tier is max(floor, tenant setting)."""
    assert registry().resolve(name, {name: setting}).tier is tier


@pytest.mark.parametrize(
    ("name", "setting", "floor"),
    [
        ("create_ticket", 1, "2 (CONFIRM)"),
        ("send_email", 2, "3 (APPROVE)"),
        ("send_email", 1, "3 (APPROVE)"),
    ],
)
def test_a_tenant_may_not_lower_a_tier(name: str, setting: int, floor: str) -> None:
    """Below the floor is a policy error naming the tool and its floor, not ignored."""
    reg = registry()
    with pytest.raises(
        TierPolicyError, match=rf"actions\.tiers\.{name}: .*floor {re.escape(floor)};"
    ):
        reg.check_tiers({name: setting})
    with pytest.raises(TierPolicyError, match="never lower it"):
        reg.resolve(name, {name: setting})


def test_a_bad_setting_for_another_tool_still_fails_resolution() -> None:
    """resolve checks the whole table: a policy that skipped check_tiers fails closed."""
    with pytest.raises(TierPolicyError, match="send_email"):
        registry().resolve("lookup_order", {"lookup_order": 2, "send_email": 1})


@pytest.mark.parametrize("tiers", [{"delete_everything": 3}, {"Send_Email": 3}, {3: 3}])
def test_an_unknown_tool_in_the_tenant_table_is_refused(tiers: dict[Any, int]) -> None:
    """A typo in the policy must not silently leave a tool at its floor."""
    with pytest.raises(TierPolicyError, match="unknown tool"):
        registry().check_tiers(tiers)


@pytest.mark.parametrize("value", [0, 4, True, "3", 2.5, None])
def test_a_tier_that_is_not_1_2_or_3_is_refused(value: object) -> None:
    """Only the three tiers, as integers."""
    with pytest.raises(TierPolicyError, match=r"actions\.tiers\.create_ticket must be 1"):
        registry().check_tiers({"create_ticket": value})


def test_the_tier_table_must_be_a_table() -> None:
    """A list or a string is not a tier table."""
    with pytest.raises(TierPolicyError, match="must be a table"):
        registry().check_tiers(["send_email"])  # type: ignore[arg-type]


def test_check_tiers_returns_a_read_only_table() -> None:
    """The checked table holds Tiers and cannot be changed afterwards."""
    checked = registry().check_tiers({"lookup_order": 2})
    assert dict(checked) == {"lookup_order": Tier.CONFIRM}
    with pytest.raises(TypeError):
        checked["lookup_order"] = Tier.AUTO  # type: ignore[index]


def test_resolving_an_unknown_tool_raises() -> None:
    """UnknownAction is a LookupError."""
    with pytest.raises(UnknownAction):
        registry().resolve("delete_everything", {})


def test_openai_tools_are_function_definitions() -> None:
    """One function tool per action, sorted, parameters from the schema, no extras."""
    tools = registry().openai_tools()
    assert [t["function"]["name"] for t in tools] == sorted(s.name for s in SPECS)
    by_name = {t["function"]["name"]: t for t in tools}
    ticket = by_name["create_ticket"]
    assert ticket["type"] == "function"
    assert set(ticket["function"]) == {"name", "description", "parameters"}
    assert ticket["function"]["description"] == "Open a support ticket."
    parameters = ticket["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["additionalProperties"] is False
    assert set(parameters["properties"]) == {"title", "body", "priority"}
    assert parameters["required"] == ["title", "body"]
    assert parameters["properties"]["priority"]["enum"] == ["low", "normal", "high"]
    header = by_name["call_webhook"]["function"]["parameters"]["$defs"]["Header"]
    assert header["additionalProperties"] is False


def test_openai_tools_for_a_role_hold_only_what_it_may_call() -> None:
    """approver lacks datasources.use; viewer may call nothing; unknown roles nothing."""
    reg = registry()

    def names(role: str) -> list[str]:
        return [t["function"]["name"] for t in reg.openai_tools(role)]

    assert names("approver") == ["call_webhook", "create_ticket", "send_email"]
    assert names("member") == list(reg.names())
    assert names("viewer") == []
    assert names("root") == []


def test_openai_tools_say_nothing_about_tiers() -> None:
    """The model is told what a tool takes, not how it is gated."""
    text = repr(registry().openai_tools())
    assert "tier" not in text.lower() and "floor" not in text.lower()


def test_the_example_specs_are_sound() -> None:
    """Sanity: the read-only example is AUTO, every writing one is not."""
    assert LOOKUP_ORDER.writes is False and LOOKUP_ORDER.floor is Tier.AUTO
    assert all(s.floor >= Tier.CONFIRM for s in SPECS if s.writes)
