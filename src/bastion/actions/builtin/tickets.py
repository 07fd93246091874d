"""Helpdesk tickets in a tenant's own database: ``create_ticket`` and ``get_ticket``.

The tenant's policy names the table (``[actions.create_ticket]`` and
``[actions.get_ticket]``: ``source``, the data source's name or id, and ``table``,
default ``tickets``); the model supplies only the ticket's fields. Expected table::

    id            auto-increment primary key
    title, body, priority, requested_by
    status        default 'open'
    created_at

Security reasoning:

* the source is opened as the requester (:func:`open_source`): a source they could
  not query themselves is ``no_source``, the same answer as one that does not exist;
* the table and column names are the policy's plain identifiers, quoted; the title,
  body and priority are *bound parameters* of a statement Bastion builds
  (:func:`bastion.datasources._guard_write.plan_insert`), so a title such as
  ``'); DROP TABLE tickets; --`` is stored verbatim;
* ``requested_by`` is the requester's email as the gateway knows it, and
  ``created_at`` the gateway's clock: neither comes from the model;
* ``create_ticket`` writes, so its floor is CONFIRM: the requester sees
  :meth:`CreateTicket.summary` and agrees first. The insert runs through the
  executor's write path (host pinning, ``db_role``, time limit, one row at most);
* ``get_ticket`` only reads, through the query guard as the requester (the ticket
  table's columns, masks and row filter for their role) and the read-only executor.

Results carry no argument values in ``message``; the ticket's fields are in ``detail``
(sealed in the store, scanned before the model sees them).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.actions.builtin._common import open_source
from bastion.actions.catalog import ActionResult, ActionServices
from bastion.actions.registry import ActionSpec, Tier
from bastion.datasources._guard_write import PlanRefused, plan_insert
from bastion.datasources._source_config import COLUMN, rules_for
from bastion.datasources.executor import QueryFailed
from bastion.datasources.queries import run_guarded
from bastion.identity.caller_ref import CallerRef

if TYPE_CHECKING:
    from bastion.actions.catalog import Action

__all__ = [
    "CreateTicket",
    "CreateTicketArguments",
    "GetTicket",
    "GetTicketArguments",
    "TicketConfig",
]

_TIMEOUT_MS = 10_000
# Bidirectional overrides and isolates reorder what a reviewer reads.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_READ_COLUMNS = ("id", "title", "priority", "status", "created_at")


def _controls(text: str, allowed: str = "") -> bool:
    return any(
        (unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch not in allowed) or ch in _BIDI
        for ch in text
    )


class CreateTicketArguments(BaseModel):
    """What the model supplies for a new ticket."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str = Field(min_length=1, max_length=200, description="One line.")
    body: str = Field(default="", max_length=10_000, description="The description.")
    priority: Literal["low", "normal", "high", "urgent"] = "normal"

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip() or _controls(value):
            raise ValueError("must be one line of text without control characters")
        return value

    @field_validator("body")
    @classmethod
    def _text(cls, value: str) -> str:
        if _controls(value, allowed="\n\t"):
            raise ValueError("may hold line breaks and tabs, no other control characters")
        return value


class GetTicketArguments(BaseModel):
    """Which ticket to read."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ticket_id: int = Field(ge=1, le=2**63 - 1)


class TicketConfig(BaseModel):
    """``[actions.create_ticket]`` / ``[actions.get_ticket]``: where tickets live."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=128)  # the data source's name or id
    table: str = "tickets"

    @field_validator("table")
    @classmethod
    def _plain_table(cls, value: str) -> str:
        if not COLUMN.fullmatch(value):
            raise ValueError(
                "must be a plain identifier: a letter or '_', then letters, digits or '_'"
            )
        return value


_CREATE = ActionSpec(
    name="create_ticket",
    description=(
        "Open a helpdesk ticket on behalf of the user, with a one-line title, an "
        "optional description and a priority. The user confirms before it is created."
    ),
    arguments=CreateTicketArguments,
    floor=Tier.CONFIRM,
    writes=True,
    permissions=("actions.use",),
    rate_limit="20/minute",
)
_GET = ActionSpec(
    name="get_ticket",
    description="Read a helpdesk ticket's title, priority, status and creation time by id.",
    arguments=GetTicketArguments,
    floor=Tier.AUTO,
    writes=False,
    permissions=("actions.use",),
)


class CreateTicket:
    """``create_ticket``: insert one ticket as the requester (see the module doc)."""

    def __repr__(self) -> str:
        return "CreateTicket()"

    @property
    def spec(self) -> ActionSpec:
        return _CREATE

    @property
    def config(self) -> type[BaseModel]:
        return TicketConfig

    def summary(self, arguments: CreateTicketArguments, config: TicketConfig) -> str:
        title = json.dumps(arguments.title, ensure_ascii=False)
        return (
            f"Create a ticket in {config.source}.{config.table}: {title} "
            f"(priority {arguments.priority}, {len(arguments.body)} characters of description)"
        )

    def check(self, arguments: CreateTicketArguments, config: TicketConfig) -> str | None:
        return None  # the schema and the config's validation hold every static rule

    def run(
        self,
        services: ActionServices,
        caller: CallerRef,
        arguments: CreateTicketArguments,
        config: TicketConfig,
    ) -> ActionResult:
        source = open_source(services, caller, config.source)
        if source is None:
            return ActionResult(False, "no_source", "the ticket source is not available")
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        plan = plan_insert(
            source.kind,
            config.table,
            [
                ("title", arguments.title),
                ("body", arguments.body),
                ("priority", arguments.priority),
                ("requested_by", caller.user_email),
                ("created_at", now),
            ],
            returning="id",
        )
        if isinstance(plan, PlanRefused):
            return ActionResult(False, plan.reason, "the ticket table is not usable")
        try:
            result = services.executor.write(source, plan, timeout_ms=_TIMEOUT_MS, max_rows=1)
        except QueryFailed as failed:
            return ActionResult(False, failed.code, "the ticket could not be created")
        if result.rowcount != 1 or result.new_id is None:
            return ActionResult(False, "db_error", "the ticket could not be created")
        return ActionResult(
            True, "done", f"ticket {result.new_id} created", {"ticket_id": result.new_id}
        )


class GetTicket:
    """``get_ticket``: read one ticket through the read-only executor."""

    def __repr__(self) -> str:
        return "GetTicket()"

    @property
    def spec(self) -> ActionSpec:
        return _GET

    @property
    def config(self) -> type[BaseModel]:
        return TicketConfig

    def summary(self, arguments: GetTicketArguments, config: TicketConfig) -> str:
        return f"Read ticket {arguments.ticket_id} from {config.source}.{config.table}"

    def check(self, arguments: GetTicketArguments, config: TicketConfig) -> str | None:
        return None

    def run(
        self,
        services: ActionServices,
        caller: CallerRef,
        arguments: GetTicketArguments,
        config: TicketConfig,
    ) -> ActionResult:
        source = open_source(services, caller, config.source)
        if source is None:
            return ActionResult(False, "no_source", "the ticket source is not available")
        # Through the query guard as the caller: the ticket table's rules for their
        # role (visible columns, masks, the row filter) decide what they may read.
        # The id is a validated integer and the table a checked plain identifier.
        rule = rules_for(source.config, caller.user_id, caller.role).get(config.table)
        visible = None if rule is None else rule.columns
        columns = [c for c in _READ_COLUMNS if visible is None or c in visible]
        sql = (
            f"SELECT {', '.join(columns)} FROM {config.table} "  # noqa: S608
            f"WHERE id = {int(arguments.ticket_id)}"
        )
        outcome = run_guarded(
            services.executor,
            source,
            sql,
            user_id=caller.user_id,
            role=caller.role,
            params=services.params_for(caller),
            timeout_ms=_TIMEOUT_MS,
        )
        if outcome.status == "refused":
            return ActionResult(False, outcome.reason, "the ticket table is not readable")
        found = outcome.result
        if outcome.status != "ran" or found is None:
            return ActionResult(False, outcome.reason, "the ticket could not be read")
        if not found.rows:
            return ActionResult(False, "not_found", "no such ticket")
        row = dict(zip(found.columns, found.rows[0], strict=True))
        detail = {
            name: value if value is None or isinstance(value, int) else _text(value)
            for name, value in row.items()
        }
        return ActionResult(True, "done", f"ticket {arguments.ticket_id} found", detail)


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


if TYPE_CHECKING:

    def _conforms(create: CreateTicket, get: GetTicket) -> tuple[Action, Action]:
        return create, get
