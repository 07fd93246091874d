"""Agent actions (issue 8): what the model may propose, and how much agreement each needs.

Every action is declared in an :class:`ActionRegistry` as an :class:`ActionSpec`: a
strict argument schema, whether it writes, the permissions it needs, a rate limit and a
floor :class:`Tier`:

* ``Tier.AUTO`` (1) runs automatically: low-risk and read-only;
* ``Tier.CONFIRM`` (2) needs the requesting user's confirmation (creating records,
  generating reports);
* ``Tier.APPROVE`` (3) needs approval by a different user holding ``actions.approve``
  (changing production data, communicating outside).

An action that writes is never AUTO. A tenant may raise a tool's tier in its policy,
never lower it below the floor. :func:`validate_call` is the gateway's deterministic
check of a call the model proposes; the tier comes from the registry and the tenant,
never from the model. :func:`action_hash` binds an approval to one exact call.
"""

from __future__ import annotations

from bastion.actions.proposal import (
    MAX_ARGUMENT_BYTES,
    Refusal,
    ValidatedCall,
    action_hash,
    validate_call,
)
from bastion.actions.registry import (
    ActionRegistry,
    ActionSpec,
    ActionSpecError,
    ResolvedAction,
    Tier,
    TierPolicyError,
    UnknownAction,
)

__all__ = [
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
