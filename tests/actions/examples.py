"""Example actions for the tests: declarations only, nothing runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bastion.actions import ActionRegistry, ActionSpec, Tier

STRICT = ConfigDict(extra="forbid", strict=True)


class LookupOrder(BaseModel):
    model_config = STRICT
    order_id: int = Field(ge=1)


class CreateTicket(BaseModel):
    model_config = STRICT
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=4000)
    priority: Literal["low", "normal", "high"] = "normal"


class SendEmail(BaseModel):
    model_config = STRICT
    to: list[str] = Field(min_length=1, max_length=10)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=8000)


class Header(BaseModel):
    model_config = STRICT
    name: str
    value: str


class CallWebhook(BaseModel):
    model_config = STRICT
    url: str
    headers: list[Header] = []


class UpdateRecord(BaseModel):
    model_config = STRICT
    table: str
    record_id: int
    column: str
    value: str


LOOKUP_ORDER = ActionSpec(
    "lookup_order", "Look up one order.", LookupOrder, Tier.AUTO, False, ("datasources.use",)
)
CREATE_TICKET = ActionSpec(
    "create_ticket",
    "Open a support ticket.",
    CreateTicket,
    Tier.CONFIRM,
    True,
    ("chat",),
    "10/minute",
)
SEND_EMAIL = ActionSpec(
    "send_email", "Send an email.", SendEmail, Tier.APPROVE, True, ("chat",), "5/hour"
)
CALL_WEBHOOK = ActionSpec(
    "call_webhook", "Call a configured webhook.", CallWebhook, Tier.APPROVE, True, ("chat",)
)
UPDATE_RECORD = ActionSpec(
    "update_record",
    "Change one column of one record.",
    UpdateRecord,
    Tier.APPROVE,
    True,
    ("chat", "datasources.use"),
    "20/hour;5/minute",
)
SPECS = (LOOKUP_ORDER, CREATE_TICKET, SEND_EMAIL, CALL_WEBHOOK, UPDATE_RECORD)


def registry() -> ActionRegistry:
    return ActionRegistry(SPECS)
