"""The gateway's deterministic check of an action the model proposes.

The model is untrusted: it may name a tool that does not exist, pick arguments to
escalate (``"approved": true``), append a second call, or repeat a key so that one
parser sees a harmless value and another the real one. :func:`validate_call` decides
without the model's help, in this order:

1. the tool is registered, else ``unknown_tool`` (the name is not echoed);
2. the tenant's tier table is valid (else :class:`TierPolicyError` is raised: a policy
   problem fails closed, it is not the model's fault to report back);
3. the caller's role holds every permission the tool needs, else ``permission_denied``
   (checked before the arguments are parsed: nothing of the schema is revealed and no
   work is done on untrusted input for a caller who may not act);
4. the arguments are one JSON object of at most :data:`MAX_ARGUMENT_BYTES` bytes, with
   no repeated key at any depth, no ``NaN``/``Infinity``, that the tool's strict
   schema accepts (no extra field, no type coercion), else ``invalid_arguments``.

The tier comes from the registry and the tenant, never from the arguments: a ``tier``,
``approved`` or ``confirm`` field is an extra field like any other and is refused.

Duplicate keys: ``json.loads`` silently keeps the last, and another parser may keep the
first, so a user could approve one value while another runs; they are refused. The
object we parsed is serialized again and only that is handed to pydantic, so exactly one
parse decides what the arguments are.

Refusal messages name the field and the kind of error, never a value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from bastion.actions.registry import ActionRegistry, ActionSpec, Tier
from bastion.authz import allowed

__all__ = ["MAX_ARGUMENT_BYTES", "Refusal", "ValidatedCall", "action_hash", "validate_call"]

MAX_ARGUMENT_BYTES = 16 * 1024
_HASH_DOMAIN = "bastion.action.v1"
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_REPORTED = 5
_KINDS = {
    "missing": "is required",
    "extra_forbidden": "is not allowed",
    "duplicate_key": "appears more than once",
}

RefusalCode = Literal["unknown_tool", "invalid_arguments", "permission_denied"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a proposed call will not run. ``message`` is safe to show the model and log."""

    code: RefusalCode
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedCall:
    """A call that passed every check, with its effective tier. ``canonical`` is the
    validated arguments as canonical JSON (sorted keys, no whitespace, UTF-8, defaults
    filled in): what an approval binds to through :func:`action_hash`."""

    spec: ActionSpec
    arguments: BaseModel
    tier: Tier
    canonical: str

    def __repr__(self) -> str:  # the arguments may hold personal data: never in a repr
        return f"ValidatedCall(name={self.spec.name!r}, tier={self.tier.name})"


class _Invalid(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def validate_call(
    registry: ActionRegistry,
    name: str,
    raw_arguments: str,
    role: str,
    tenant_tiers: Mapping[str, int],
) -> ValidatedCall | Refusal:
    """Check one model-proposed call for a caller with ``role`` (see the module doc)."""
    spec = registry.get(name) if isinstance(name, str) else None
    if spec is None:
        return Refusal("unknown_tool", f"unknown tool; the tools are {', '.join(registry.names())}")
    tier = registry.resolve(spec.name, tenant_tiers).tier
    missing = [p for p in spec.permissions if not allowed(role, p)]
    if missing:
        return Refusal(
            "permission_denied", f"your role may not use {spec.name} (needs {missing[0]})"
        )
    try:
        arguments, canonical = _parse(spec, raw_arguments)
    except _Invalid as exc:
        return Refusal("invalid_arguments", f"{spec.name}: {exc.message}", exc.field)
    return ValidatedCall(spec, arguments, tier, canonical)


def action_hash(
    tool: str, canonical_arguments: str, requester_user_id: str, conversation_id: str
) -> str:
    """SHA-256 (hex) binding an approval to one exact call.

    The fields are encoded as a JSON array with a versioned domain tag, not concatenated:
    ``"ab" + "c"`` and ``"a" + "bc"`` are the same bytes, so with plain concatenation an
    approval for one (tool, arguments, user, conversation) could match a different one
    whose fields split the same string differently. JSON strings are delimited and
    escaped, so each field's boundaries are part of what is hashed.
    """
    fields = (tool, canonical_arguments, requester_user_id, conversation_id)
    if not all(isinstance(f, str) for f in fields):
        raise TypeError("action_hash takes four strings")
    encoded = json.dumps([_HASH_DOMAIN, *fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _parse(spec: ActionSpec, raw: object) -> tuple[BaseModel, str]:
    if not isinstance(raw, str):
        raise _Invalid("the arguments must be a JSON object")
    raw = raw or "{}"  # some clients send "" for a call without arguments
    if len(raw) > MAX_ARGUMENT_BYTES or len(raw.encode("utf-8", "surrogatepass")) > (
        MAX_ARGUMENT_BYTES
    ):
        raise _Invalid(f"the arguments are over {MAX_ARGUMENT_BYTES} bytes")
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError, huge ints, deep nesting
        raise _Invalid("the arguments are not valid JSON (one object expected)") from None
    if not isinstance(value, dict):
        raise _Invalid("the arguments must be a JSON object")
    try:
        # What pydantic validates is what we parsed, nothing else: no parser differential.
        reparsed = _canonical(value)
        arguments = spec.arguments.model_validate_json(reparsed, strict=True)
        return arguments, _canonical(arguments.model_dump(mode="json", by_alias=True))
    except ValidationError as exc:
        raise _explain(exc) from None
    except (ValueError, UnicodeEncodeError):  # inf from 1e400, a lone surrogate
        raise _Invalid("the arguments hold a number or text that cannot be used") from None


def _canonical(value: Any) -> str:
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    return text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            field = _field((key,))
            raise _Invalid(f"field {field} {_KINDS['duplicate_key']}", field)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Invalid("NaN and Infinity are not JSON numbers")


def _field(loc: tuple[int | str, ...]) -> str:
    """A location safe to show: identifier-like keys and indexes; anything else is '?',
    since a key the model made up may itself carry data."""
    parts = [str(p) if isinstance(p, int) or _SAFE_KEY.fullmatch(p) else "?" for p in loc]
    return ".".join(parts) or "(arguments)"


def _explain(exc: ValidationError) -> _Invalid:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    described = []
    for error in errors[:_MAX_REPORTED]:
        kind = error["type"]
        described.append(f"{_field(error['loc'])} {_KINDS.get(kind, f'is invalid ({kind})')}")
    more = f" (and {len(errors) - _MAX_REPORTED} more)" if len(errors) > _MAX_REPORTED else ""
    first = _field(errors[0]["loc"]) if errors else None
    return _Invalid("; ".join(described) + more, first)
