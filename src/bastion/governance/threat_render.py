"""The threat model as a Markdown document (and a JSON-ready dict)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bastion.governance.threat_model import ThreatModel

__all__ = ["as_dict", "render_markdown"]

# Trust boundaries of every Bastion deployment: (boundary, crossing, controls).
BOUNDARIES = (
    ("client -> gateway", "prompts, API keys, SSO sessions",
     "API keys hashed at rest; OIDC/SAML with step-up; RBAC deny by default; rate limits; "
     "isolation list; body size limits"),
    ("gateway -> upstream model", "assembled prompt (after redaction and pseudonymization)",
     "input scanners; spotlighting of untrusted content; canary; TLS with optional SPKI "
     "pins; sealed upstream keys; residency rules; pinned model versions"),
    ("upstream model -> gateway", "text, tool calls, SQL (the model is untrusted)",
     "output scanners (canary, prompt leak, DLP, exfiltration links), stream hold-back; "
     "tool authorization and tiers; the query guard rewrites SQL as the caller"),
    ("gateway -> data sources", "guarded SQL under the caller's identity",
     "query guard (read-only, row filters, masked columns, row caps); host allow-list; "
     "sealed connection URLs; optional database role"),
    ("gateway -> action targets", "webhooks and email approved by people",
     "tier 2 confirmation, tier 3 approval by another person; action hash binding; "
     "host allow-list"),
    ("gateway -> database", "state, audit chain, conversations, documents",
     "envelope encryption (per-tenant data keys under the KEK); row-level security per "
     "tenant on PostgreSQL; hash-chained audit"),
    ("gateway -> SIEM", "audit records without prompt or answer text",
     "at-least-once delivery with persisted cursors; TLS to syslog; NATS acks"),
)  # fmt: skip

# Failure modes: (what fails or is compromised, blast radius, what limits it).
FAILURES = (
    ("the upstream model is hijacked (prompt injection)",
     "what the model says and proposes in that conversation",
     "output scanners; tools run as the caller under the query guard; actions need "
     "confirmation or approval; detectors raise injection alerts; playbooks isolate"),
    ("a user's API key is stolen",
     "that user's data and permissions until revoked",
     "detectors (volume, scope, probing); compromised_credentials playbook rotates keys; "
     "rate limits; audit trail per key"),
    ("a provider changes a model silently",
     "answers of every tenant using that alias",
     "pinned versions in the registry; behaviour probes alert on drift; one-step rollback"),
    ("a local model file is swapped",
     "what the injection classifier or retrieval decides",
     "SHA-256 pins checked at every load; refusal and a critical alert"),
    ("the database is copied",
     "metadata in clear; sealed content unreadable without the KEK",
     "envelope encryption; KEK in a separate provider"),
    ("the KEK is lost",
     "every sealed value (prompts in the audit, conversations, documents, secrets)",
     "KEK backup and provider durability; `bastion keys rotate`"),
    ("the SIEM receiver is down",
     "none lost: delivery resumes from the cursor",
     "persisted cursors, at-least-once delivery"),
    ("a poisoned document or feedback flood",
     "the tenant's own retrieval and feedback",
     "scans, rate limits and anomaly checks quarantine it; per-source rollback; "
     "no shared weights"),
    ("the database is unreachable",
     "every request (fail closed: no audit record, no answer)",
     "replicas share PostgreSQL; health checks; 503 audit_unavailable"),
)  # fmt: skip


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") or "-" for c in row) + " |")
    return [*lines, ""]


def render_markdown(model: ThreatModel) -> str:
    out = [
        "# Threat model",
        "",
        f"Generated {model.generated_at.isoformat()} by `bastion threat-model` from the live "
        "configuration.",
        "",
        "## Deployment",
        "",
    ]
    out += _table(("fact", "value"), [(k, str(v)) for k, v in model.settings.items()])
    out += ["## Components and regions", ""]
    out += _table(
        ("component", "kind", "region", "detail"),
        [(c.name, c.kind, c.region or "unspecified", c.detail) for c in model.components],
    )
    out += ["## Data inputs", ""]
    out += _table(
        ("tenant", "source", "kind", "owner", "tables", "classification", "region", "shares"),
        [
            (s.tenant, s.name + (" (disabled)" if s.disabled else ""), s.kind, s.owner,
             ", ".join(s.tables) or "-", s.classification, s.region or "unspecified",
             str(s.shares))
            for s in model.sources
        ],
    ) if model.sources else ["No data sources.", ""]  # fmt: skip
    out += [
        "## Outputs",
        "",
        "- Answers go to the calling client only (OpenAI and Anthropic routes, the "
        "assistant), after the output scanners.",
        "- Stored: audit records (prompts and answers sealed), assistant conversations "
        "(sealed), pseudonym vaults (sealed), document chunks (sealed) and their vectors, "
        "incidents and their snapshots (sealed), feedback (corrections sealed).",
        f"- Forwarded: audit records without prompt or answer text to "
        f"{model.settings['siem_sinks']} SIEM sink(s).",
        "",
        "## Tenants: controls and action scope",
        "",
    ]
    out += _table(
        ("tenant", "policy", "SSO", "input scanners", "output scanners", "actions (tier)",
         "automatic playbooks"),
        [
            (t.name, t.policy + ("" if t.loads else " (does not load: fails closed)"), t.sso,
             ", ".join(t.input_scanners), ", ".join(t.output_scanners),
             ", ".join(f"{a} ({n})" for a, n in t.actions.items()) or "none",
             ", ".join(t.auto_playbooks) or "none")
            for t in model.tenants
        ],
    )  # fmt: skip
    out += ["## Residency map", ""]
    ruled = [t for t in model.tenants if t.residency_map]
    if not ruled:
        out += ["No tenant has `[residency]` rules: data may reach every component.", ""]
    for tenant in ruled:
        out += [
            f"Tenant **{tenant.name}**: the highest classification each component may receive.",
            "",
        ]
        out += _table(("component", "may receive up to"), sorted(tenant.residency_map.items()))
    out += ["## Trust boundaries", ""]
    out += _table(("boundary", "what crosses", "controls"), list(BOUNDARIES))
    out += ["## Failure modes and blast radius", ""]
    out += _table(("failure", "blast radius", "what limits it"), list(FAILURES))
    return "\n".join(out)


def as_dict(model: ThreatModel) -> dict[str, Any]:
    data = asdict(model)
    data["generated_at"] = model.generated_at.isoformat()
    data["trust_boundaries"] = [
        dict(zip(("boundary", "crossing", "controls"), b, strict=True)) for b in BOUNDARIES
    ]
    data["failure_modes"] = [
        dict(zip(("failure", "blast_radius", "limits"), f, strict=True)) for f in FAILURES
    ]
    return data
