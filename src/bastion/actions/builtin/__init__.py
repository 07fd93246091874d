"""The built-in agent actions: each implements :class:`bastion.actions.catalog.Action`.

============== ======= ====== ==============================================
action         floor   writes what it does
============== ======= ====== ==============================================
get_ticket     1 auto  no     reads one ticket from the tenant's ticket table
create_ticket  2       yes    inserts a ticket (PostgreSQL, MySQL or SQLite)
update_record  3       yes    changes one row, through the query guard
send_email     3       yes    sends a plain-text email through the SMTP relay
call_webhook   3       yes    POSTs an event to a webhook the tenant named
============== ======= ====== ==============================================

A tenant offers none of them until its policy lists them in ``[actions] enabled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bastion.actions.catalog import Action

__all__ = ["builtin_actions"]


def builtin_actions() -> Mapping[str, Action]:
    """A fresh name → action map of the built-in actions (they hold no state)."""
    # Imported here: the action modules pull in the data-source and HTTP code, which
    # a process that only checks policies need not load up front.
    from bastion.actions.builtin.email import SendEmail
    from bastion.actions.builtin.records import UpdateRecord
    from bastion.actions.builtin.tickets import CreateTicket, GetTicket
    from bastion.actions.builtin.webhook import CallWebhook

    actions: tuple[Action, ...] = (
        GetTicket(),
        CreateTicket(),
        UpdateRecord(),
        SendEmail(),
        CallWebhook(),
    )
    return MappingProxyType({action.spec.name: action for action in actions})
