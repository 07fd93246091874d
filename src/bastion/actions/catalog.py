"""What an action does, once approved: the contract every built-in action implements.

An :class:`Action` couples its :class:`~bastion.actions.registry.ActionSpec` (schema,
floor tier, permissions, rate limit) with

* ``config``: the pydantic model of its tenant table ``[actions.<name>]`` (strict, no
  extra keys), checked when the policy loads, so a bad table is a policy error;
* :meth:`Action.summary`: the human-readable sentence of exactly what will happen,
  shown to the person who confirms or approves (built from the validated arguments and
  the tenant's config, never from text the model wrote about the call);
* :meth:`Action.check`: the tenant's rules that need no I/O (an email domain not
  allowed, a webhook target not configured), applied when the model proposes the call,
  so a call that could never run is refused at once and never reaches an approver;
* :meth:`Action.run`: doing it, as the requesting user, with the services the gateway
  hands over (:class:`ActionServices`). Blocking: the flow calls it in a thread.

``run`` returns an :class:`ActionResult` and raises nothing for an expected failure (a
refused host, an SMTP error, a row the caller may not change): the result says
``ok=False`` with a short ``code``. ``message`` and ``code`` are kept in clear in the
store (no argument values or fetched data in them); ``detail`` (ids, counts, a row a
read action fetched) is sealed in the store, and scanned as untrusted content before
the model sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from bastion.actions.registry import ActionSpec
from bastion.datasources._hosts import HostPolicy
from bastion.datasources.executor import Executor
from bastion.datasources.sources import DataSources
from bastion.identity.caller_ref import CallerRef

__all__ = ["Action", "ActionResult", "ActionServices", "SmtpRelay"]

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What came of running an action. ``code`` is ``done`` when ``ok``, else a short
    machine code (``host_not_allowed``, ``smtp_failed``, ``not_writable``, ...)."""

    ok: bool
    code: str
    message: str  # one human-readable line, no argument values ("ticket 17 created")
    detail: Mapping[str, Scalar] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ActionResult(ok={self.ok}, code={self.code!r})"


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    """The deployment's SMTP relay (settings ``smtp_*``)."""

    host: str
    port: int
    sender: str
    starttls: bool = True
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"SmtpRelay(port={self.port}, starttls={self.starttls})"


@dataclass(frozen=True, slots=True)
class ActionServices:
    """What actions may use; built once per gateway (:class:`Runtime`)."""

    executor: Executor
    hosts: HostPolicy  # actions_allowed_hosts: webhook targets, approver notifications
    sources: DataSources | None = None
    # Row filters bind only what the gateway knows of the caller (stored attributes).
    params_for: Callable[[CallerRef], Mapping[str, str]] = lambda caller: {}
    smtp: SmtpRelay | None = None
    http_timeout: float = 5.0

    def __repr__(self) -> str:
        return "ActionServices()"


class Action(Protocol):
    """One built-in action (see the module doc)."""

    @property
    def spec(self) -> ActionSpec: ...

    @property
    def config(self) -> type[BaseModel]: ...

    def summary(self, arguments: Any, config: Any) -> str: ...

    def check(self, arguments: Any, config: Any) -> str | None:
        """None when the tenant's rules allow the call, else why not (no values)."""
        ...

    def run(
        self, services: ActionServices, caller: CallerRef, arguments: Any, config: Any
    ) -> ActionResult: ...
