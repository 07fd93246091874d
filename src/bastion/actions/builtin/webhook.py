"""``call_webhook``: POST a small JSON event to one of the tenant's named webhooks.

The model never supplies a URL. It names a ``target`` (``^[a-z][a-z0-9_-]{0,63}$``),
and the tenant's ``[actions.call_webhook]`` table maps names to URLs; a name not in the
table is refused when the call is proposed (:meth:`CallWebhook.check`), so the model
cannot reach a host the tenant did not write down. The URLs are checked when the table
is loaded (http or https, a host, no ``user:password@``, no fragment) and never echoed
in an error or a summary: a webhook URL often carries its secret in the path or query.

What is sent is fixed: ``{"event", "message", "requested_by", "sent_at"}``, where
``event`` is an identifier-like name, ``message`` is at most 4000 characters of text
without control characters (newline and tab allowed) and ``requested_by`` and
``sent_at`` come from the gateway, not the model. No header, method or path can be
chosen by the model.

Delivery goes through :func:`bastion.actions._http.post_json` under the deployment's
``actions_allowed_hosts`` (so a tenant's table alone cannot point a webhook at an
internal service): the host is checked and the connection pinned to the checked
addresses, no redirect is followed, one timeout bounds the exchange. The floor is
APPROVE since a webhook acts outside the gateway.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from bastion.actions._http import post_json, url_problem
from bastion.actions.catalog import ActionResult, ActionServices
from bastion.actions.registry import ActionSpec, Tier
from bastion.identity.caller_ref import CallerRef

__all__ = ["CallWebhook", "CallWebhookArguments", "CallWebhookConfig"]

TARGET_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
EVENT_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
_TARGET = re.compile(TARGET_PATTERN)
_TABLE = "[actions.call_webhook]"
_MAX_TARGETS = 100


def _message(value: str) -> str:
    for ch in value:
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError("may hold newlines and tabs but no other control characters")
    return value


class CallWebhookArguments(BaseModel):
    """What the model proposes: a configured target's name, an event name, a message."""

    model_config = ConfigDict(extra="forbid", strict=True)

    target: str = Field(pattern=TARGET_PATTERN)
    event: str = Field(pattern=EVENT_PATTERN)
    message: Annotated[str, Field(max_length=4000), AfterValidator(_message)] = ""

    def __repr__(self) -> str:
        return f"CallWebhookArguments(target={self.target!r}, event={self.event!r})"


class CallWebhookConfig(BaseModel):
    """The tenant's ``[actions.call_webhook]`` table: ``targets`` maps names to URLs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    targets: dict[str, str] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > _MAX_TARGETS:
            raise ValueError(f"targets: at most {_MAX_TARGETS} webhooks")
        for name, url in value.items():
            if not _TARGET.fullmatch(name):
                raise ValueError(f"targets: a webhook name must match {TARGET_PATTERN}")
            problem = url_problem(url)
            if problem is not None:  # the URL itself is never repeated: it holds secrets
                raise ValueError(f"targets.{name}: the URL {problem}")
        return value

    def __repr__(self) -> str:  # the URLs may hold secrets
        return f"CallWebhookConfig(targets={sorted(self.targets)!r})"


_SPEC = ActionSpec(
    name="call_webhook",
    description=(
        "Send an event with a short message to one of the organisation's configured "
        "webhooks, named by target (an approver must agree first)."
    ),
    arguments=CallWebhookArguments,
    floor=Tier.APPROVE,
    writes=True,
    permissions=("actions.use",),
    rate_limit="30/hour",
)


class CallWebhook:
    """The ``call_webhook`` action (see the module doc)."""

    spec: ActionSpec = _SPEC
    config: type[BaseModel] = CallWebhookConfig

    def __repr__(self) -> str:
        return "CallWebhook()"

    def summary(self, arguments: CallWebhookArguments, config: CallWebhookConfig) -> str:
        return (
            f'POST event "{arguments.event}" to webhook "{arguments.target}" '
            f"({len(arguments.message)} characters of message)"
        )

    def check(self, arguments: CallWebhookArguments, config: CallWebhookConfig) -> str | None:
        if not isinstance(arguments, CallWebhookArguments) or not isinstance(
            config, CallWebhookConfig
        ):
            return "call_webhook: the call or the policy table is malformed"
        if arguments.target not in config.targets:
            names = ", ".join(sorted(config.targets)) or "none"
            return f"call_webhook: unknown target; the targets in {_TABLE} are: {names}"
        return None

    def run(
        self,
        services: ActionServices,
        caller: CallerRef,
        arguments: CallWebhookArguments,
        config: CallWebhookConfig,
    ) -> ActionResult:
        problem = self.check(arguments, config)  # again: the policy may have changed
        if problem is not None:
            return ActionResult(False, "not_allowed", problem)
        payload = {
            "event": arguments.event,
            "message": arguments.message,
            "requested_by": caller.user_email,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        result = post_json(
            services.hosts,
            config.targets[arguments.target],
            payload,
            timeout=services.http_timeout,
        )
        if result.ok:
            return ActionResult(
                True, "done", f"webhook {arguments.target} called", {"status": result.status}
            )
        if result.code == "host_not_allowed":
            return ActionResult(
                False,
                "host_not_allowed",
                f"webhook {arguments.target}: its host is not in actions_allowed_hosts",
            )
        if result.code == "bad_status":
            return ActionResult(
                False,
                "webhook_failed",
                f"webhook {arguments.target} answered HTTP {result.status}",
                {"status": result.status},
            )
        return ActionResult(
            False,
            "webhook_failed" if result.code in ("bad_url", "bad_payload") else result.code,
            f"webhook {arguments.target} could not be called ({result.code})",
        )
