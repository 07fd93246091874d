"""``update_record``: change one row of a data source, as the caller, after approval.

The most dangerous built-in action, so the most fenced:

* floor APPROVE: a different user holding ``actions.approve`` reads
  :meth:`UpdateRecord.summary` (every column and value, control characters escaped)
  and approves that exact call before anything runs;
* the caller needs ``datasources.use`` as well as ``actions.use``, and the source must
  be one they may query (:func:`open_source`; anything else is ``no_source``);
* the statement is never model SQL: :func:`bastion.datasources._guard_write.plan_update`
  builds it from the caller's own table rules (``rules_for`` for their user id and
  role): only tables they may read, only columns the source's config lists as
  ``writable`` and the caller may see unmasked, never the ``key`` column, and only
  rows inside the caller's row filter (bound exactly as for reads). Values and the
  key are bound parameters;
* the executor's write path runs it with ``max_rows=1``: a key that matches two rows
  rolls back (``too_many_rows``), with the source's ``db_role`` and time limit;
* no row updated is ``no_row``, whether the row does not exist or lies outside the
  caller's filter: the same answer, so the action cannot probe for hidden rows.

:meth:`UpdateRecord.check` refuses, at proposal time and without I/O, names that are
not plain identifiers and a column named twice, so they never reach an approver.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bastion.actions.builtin._common import caller_params, caller_role, open_source, shown
from bastion.actions.catalog import ActionResult, ActionServices
from bastion.actions.registry import ActionSpec, Tier
from bastion.datasources._guard_write import MAX_CHANGES, PlanRefused, plan_update
from bastion.datasources._source_config import rules_for
from bastion.datasources.executor import QueryFailed
from bastion.identity.caller_ref import CallerRef

if TYPE_CHECKING:
    from bastion.actions.catalog import Action

__all__ = ["Change", "UpdateRecord", "UpdateRecordArguments", "UpdateRecordConfig"]

_TIMEOUT_MS = 10_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?")
_SOURCE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
Value = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None


class Change(BaseModel):
    """One ``column = value`` of the update."""

    model_config = ConfigDict(extra="forbid", strict=True)

    column: str = Field(min_length=1, max_length=63)
    value: Value


class UpdateRecordArguments(BaseModel):
    """Which row of which table, and what to set."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str = Field(min_length=1, max_length=128, description="The source's id or name.")
    table: str = Field(min_length=1, max_length=127)
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | int = Field(
        description="The value of the table's key column naming the row."
    )
    changes: list[Change] = Field(min_length=1, max_length=MAX_CHANGES)


class UpdateRecordConfig(BaseModel):
    """``[actions.update_record]``: nothing to set; what is writable is per source."""

    model_config = ConfigDict(extra="forbid")


_SPEC = ActionSpec(
    name="update_record",
    description=(
        "Change columns of one row of a database table, picked by its key. Only columns "
        "the source allows to be written; another person approves before it runs."
    ),
    arguments=UpdateRecordArguments,
    floor=Tier.APPROVE,
    writes=True,
    permissions=("actions.use", "datasources.use"),
    rate_limit="30/hour",
)


class UpdateRecord:
    """``update_record`` (see the module doc)."""

    def __repr__(self) -> str:
        return "UpdateRecord()"

    @property
    def spec(self) -> ActionSpec:
        return _SPEC

    @property
    def config(self) -> type[BaseModel]:
        return UpdateRecordConfig

    def summary(self, arguments: UpdateRecordArguments, config: UpdateRecordConfig) -> str:
        sets = ", ".join(f"{c.column} = {shown(c.value)}" for c in arguments.changes)
        return (
            f"In {arguments.source}, table {arguments.table}: set {sets} "
            f"on the row whose key = {shown(arguments.key)}"
        )

    def check(self, arguments: UpdateRecordArguments, config: UpdateRecordConfig) -> str | None:
        if not _SOURCE_REF.fullmatch(arguments.source):
            return "the source is not a source name or id"
        if not _TABLE.fullmatch(arguments.table):
            return "the table is not a plain table name"
        columns = [change.column for change in arguments.changes]
        if any(not _IDENTIFIER.fullmatch(column) for column in columns):
            return "a column is not a plain column name"
        if len({column.lower() for column in columns}) != len(columns):
            return "a column is changed more than once"
        return None

    def run(
        self,
        services: ActionServices,
        caller: CallerRef,
        arguments: UpdateRecordArguments,
        config: UpdateRecordConfig,
    ) -> ActionResult:
        source = open_source(services, caller, arguments.source)
        if source is None:
            return ActionResult(False, "no_source", "no such data source")
        plan = plan_update(
            source.kind,
            rules_for(source.config, caller.user_id, caller_role(caller)),
            arguments.table,
            arguments.key,
            [(change.column, change.value) for change in arguments.changes],
            caller_params(services, caller),
        )
        if isinstance(plan, PlanRefused):
            return ActionResult(False, plan.reason, f"the update was refused ({plan.reason})")
        try:
            result = services.executor.write(source, plan, timeout_ms=_TIMEOUT_MS, max_rows=1)
        except QueryFailed as failed:
            return ActionResult(False, failed.code, f"the update failed ({failed.code})")
        if result.rowcount == 0:
            return ActionResult(
                False, "no_row", "no row was updated: it does not exist or may not be changed"
            )
        return ActionResult(True, "done", "1 row updated", {"rows": result.rowcount})


if TYPE_CHECKING:

    def _conforms(update: UpdateRecord) -> Action:
        return update
