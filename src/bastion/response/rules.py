"""Filter rules built from an incident's evidence, deterministically, as policy patches.

Evidence is finding *types* (``pii:EMAIL_ADDRESS``, ``injection:hijack``) and the
scanners that reported them, never the text they matched: a rule never copies prompt
or response text. A rule is a :data:`Patch`, a list of operations on the policy's
data (``{"op": "set", "path": "scanners.secrets.output_action", "value": "block"}``,
``{"op": "ensure_in", "path": "output", "value": "pii"}``), so the same JSON is the
proposal shown to a person and what :func:`apply_patch` applies.

* :func:`injection_proposal`: make the injection scanner run on input and block, and
  tighten its thresholds (never loosen them). Proposed, never applied by a playbook.
* :func:`output_rule`: what the policy format can express for output: block the PII
  entity types seen (``[scanners.pii.entities.<TYPE>] to_user = "block"``), block
  secrets in answers (``[scanners.secrets] output_action = "block"``), and make sure
  the leak and exfiltration scanners that fired stay in the output pipeline. Finding
  types with no such place give no operation (the step then records a proposal only).

:class:`TenantPolicyEditor` reads the tenant's policy in force and writes a patched
copy as the tenant's next policy version, after the gateway's own validation and a
check that the written TOML parses back to exactly the patched policy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from bastion.dlp.entities import EntityType
from bastion.policy import Policy, parse_policy
from bastion.response import _toml
from bastion.store.schema import Tenant
from bastion.store.tenancy import tenant_connect

if TYPE_CHECKING:
    from bastion.gateway.policies import PolicyStore
    from bastion.gateway.tenant_policies import TenantPolicies

__all__ = [
    "Patch",
    "TenantPolicyEditor",
    "apply_patch",
    "injection_proposal",
    "output_rule",
    "patched",
    "scanner_of",
]

Patch = list[dict[str, Any]]

_INJECTION_THRESHOLD = 0.4
_INJECTION_INDIRECT_THRESHOLD = 0.3
_OUTPUT_SCANNERS = ("canary", "system_prompt_leak", "markdown_exfil")
_ENTITIES = frozenset(e.value for e in EntityType)
_PREFIXES = (
    ("pii:", "pii"),
    ("injection:", "prompt_injection"),
    ("encoded:", "prompt_injection"),
    ("system_prompt", "system_prompt_leak"),
    ("canary", "canary"),
)


def scanner_of(finding_type: str) -> str | None:
    """The built-in scanner whose findings have this type's shape, if one does."""
    for prefix, scanner in _PREFIXES:
        if finding_type.startswith(prefix):
            return scanner
    return None


def injection_proposal(finding_types: Iterable[str], current: Policy | None) -> Patch:
    """The input-filter update proposed after a prompt injection (see module doc).
    ``current``: the policy in force, so thresholds only ever go down."""
    options = current.options("prompt_injection") if current is not None else {}
    patch: Patch = [
        {"op": "ensure_in", "path": "input", "value": "prompt_injection"},
        {"op": "set", "path": "scanners.prompt_injection.action", "value": "block"},
    ]
    for key, ceiling in (
        ("threshold", _INJECTION_THRESHOLD),
        ("indirect_threshold", _INJECTION_INDIRECT_THRESHOLD),
    ):
        value = options.get(key)
        now = float(value) if isinstance(value, int | float) else 1.0
        if now > ceiling:
            patch.append(
                {"op": "set", "path": f"scanners.prompt_injection.{key}", "value": ceiling}
            )
    types = list(finding_types)
    if any(t.startswith("encoded:") for t in types):
        patch.append({"op": "ensure_in", "path": "input", "value": "invisible_text"})
    if current is None or not current.spotlight:
        patch.append({"op": "set", "path": "spotlight", "value": True})
    return patch


def output_rule(evidence: Iterable[tuple[str | None, str]]) -> Patch:
    """The output-filter rule for ``(scanner, finding type)`` pairs (scanner None:
    inferred from the type); empty when the policy format has no place for any."""
    patch: Patch = []

    def add(op: dict[str, Any]) -> None:
        if op not in patch:
            patch.append(op)

    for scanner, kind in evidence:
        scanner = scanner or scanner_of(kind)
        entity = kind.removeprefix("pii:")
        if scanner == "pii" and kind.startswith("pii:") and entity in _ENTITIES:
            add({"op": "ensure_in", "path": "output", "value": "pii"})
            add({"op": "set", "path": f"scanners.pii.entities.{entity}.to_user", "value": "block"})
        elif scanner == "secrets":
            add({"op": "ensure_in", "path": "output", "value": "secrets"})
            add({"op": "set", "path": "scanners.secrets.output_action", "value": "block"})
        elif scanner in _OUTPUT_SCANNERS:
            add({"op": "ensure_in", "path": "output", "value": scanner})
    return patch


def apply_patch(data: Mapping[str, Any], patch: Patch) -> dict[str, Any]:
    """A copy of ``data`` (a policy's ``model_dump``) with ``patch`` applied."""
    result = copy.deepcopy(dict(data))
    for op in patch:
        *parents, last = str(op["path"]).split(".")
        target = result
        for name in parents:
            child = target.setdefault(name, {})
            if not isinstance(child, dict):
                raise ValueError(f"policy path {op['path']!r} crosses a non-table")
            target = child
        if op["op"] == "set":
            target[last] = op["value"]
        elif op["op"] == "ensure_in":
            items = list(target.get(last, []))
            if op["value"] not in items:
                items.append(op["value"])
            target[last] = items
        else:
            raise ValueError(f"unknown patch operation {op['op']!r}")
    return result


class TenantPolicyEditor:
    """The tenant's policy in force (a file, the built-in default or a stored version)
    and new stored versions of it (see the module doc)."""

    def __init__(
        self, engine: Engine, policies: PolicyStore, tenant_policies: TenantPolicies
    ) -> None:
        self._engine = engine
        self._policies = policies
        self._tenant_policies = tenant_policies

    def __repr__(self) -> str:
        return "TenantPolicyEditor()"

    def current(self, tenant_id: str) -> Policy:
        with tenant_connect(self._engine, tenant_id) as conn:
            name = conn.execute(select(Tenant.policy).where(Tenant.id == tenant_id)).scalar()
        if name is None:
            raise LookupError("no such tenant")
        return self._policies.get(name).policy

    def write(self, tenant_id: str, policy: Policy, actor: str, now: datetime) -> str:
        self._policies.check(policy)  # ValueError naming the table and key
        data = policy.model_dump(mode="json", exclude={"name"})
        body = _toml.dump(data)
        written = parse_policy(body, "tenant", "the incident's policy")
        if written.model_dump(mode="json", exclude={"name"}) != data:
            raise ValueError("the policy does not survive its TOML form")
        return self._tenant_policies.write(tenant_id, body, actor, now)


def patched(policy: Policy, patch: Patch) -> Policy:
    """``policy`` with ``patch`` applied, validated as a policy (ValueError if not)."""
    data = apply_patch(policy.model_dump(mode="json"), patch)
    return Policy.model_validate(data)
