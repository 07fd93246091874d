"""The go-live posture check: the pre- and post-deployment checklist, evaluated against
the live deployment (settings, database, policies, files), each item with its
evidence and, when it fails, the fix.

Statuses: ``pass``; ``warn`` (worth a look, not a failure: e.g. TLS terminated by a
proxy Bastion cannot see); ``fail`` (``bastion posture`` exits 1). Nothing here
changes the deployment, and no secret is read into a result: evidence names settings,
counts, ids and hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bastion.audit import SealedContentError, sealer_for, verify_chain
from bastion.crypto.select import keyring_for
from bastion.gateway.policies import PolicyStore, ResolvedPolicy
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.governance.artifacts import local_artifacts
from bastion.governance.redteam.store import latest_report
from bastion.governance.registry import ModelRegistry, is_pinned
from bastion.governance.residency import LABELS
from bastion.integrity import ArtifactIntegrityError
from bastion.scanners import default_registry
from bastion.settings import Settings, unsafe_reasons
from bastion.store import make_engine
from bastion.store.rls import isolation_problems
from bastion.store.schema import Tenant
from bastion.store.transactions import read_snapshot

__all__ = ["CheckResult", "PostureReport", "evaluate"]

REDTEAM_MAX_AGE = timedelta(days=30)
INPUT_SCANNERS = ("prompt_injection", "secrets", "pii")
OUTPUT_SCANNERS = ("canary", "system_prompt_leak", "secrets", "pii", "markdown_exfil")


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    title: str
    status: str  # pass | warn | fail
    evidence: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class PostureReport:
    checked_at: datetime
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


@dataclass(frozen=True, slots=True)
class _Deployment:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    tenants: dict[str, tuple[str, ResolvedPolicy | None]]  # id -> (name, policy)
    tenant_id: str | None = None  # one tenant's view (the console), else the deployment


def _ok(check: str, title: str, evidence: str) -> CheckResult:
    return CheckResult(check, title, "pass", evidence)


def _encryption(d: _Deployment) -> CheckResult:
    title = "Encryption at rest (envelope keys under a KEK)"
    try:
        keyring = keyring_for(d.settings, d.engine, d.clock)
    except (ValueError, ImportError) as exc:
        return CheckResult(
            "encryption_at_rest",
            title,
            "fail",
            f"KEK provider: {exc}"[:300],
            "fix the KEK provider settings (see docs/configuration.md)",
        )
    if keyring is None:
        return CheckResult(
            "encryption_at_rest",
            title,
            "fail",
            "no key-encryption key",
            "run `bastion init` (local KEK file) or configure Vault or KMS",
        )
    return _ok("encryption_at_rest", title, f"KEK provider {d.settings.kek_provider}")


def _tls(d: _Deployment) -> CheckResult:
    title = "TLS 1.3 on the gateway"
    s = d.settings
    if s.tls_cert_file is not None:
        if s.tls_allow_tls12:
            return CheckResult(
                "tls", title, "fail", "TLS on, but TLS 1.2 allowed", "unset BASTION_TLS_ALLOW_TLS12"
            )
        return _ok("tls", title, "TLS 1.3 only (BASTION_TLS_CERT_FILE set)")
    return CheckResult(
        "tls",
        title,
        "warn",
        f"no TLS in Bastion; bound to {s.host}",
        "terminate TLS 1.3 in the proxy in front of Bastion, or set BASTION_TLS_CERT_FILE",
    )


def _safe_setup(d: _Deployment) -> CheckResult:
    title = "Start-up safety check (what `bastion serve` refuses)"
    app = make_engine(d.settings.database_url)  # the gateway's own connection
    try:
        reasons = unsafe_reasons(d.settings) + isolation_problems(app)
    finally:
        app.dispose()
    if reasons:
        return CheckResult(
            "safe_setup",
            title,
            "fail",
            "; ".join(reasons)[:600],
            "fix each reason listed (docs/configuration.md)",
        )
    return _ok("safe_setup", title, "no unsafe setting; row-level security holds")


def _sso(d: _Deployment) -> CheckResult:
    title = "Single sign-on configured"
    with_sso = [name for name, policy in d.tenants.values() if policy and policy.policy.sso]
    if not d.tenants:
        return CheckResult("sso", title, "fail", "no tenant", "create a tenant (`bastion init`)")
    missing = sorted(
        name for name, policy in d.tenants.values() if not (policy and policy.policy.sso)
    )
    if missing:
        return CheckResult(
            "sso",
            title,
            "fail",
            f"tenants without [sso]: {', '.join(missing[:10])}",
            "add [sso.oidc] or [sso.saml] to each tenant's policy",
        )
    return _ok("sso", title, f"{len(with_sso)} tenant(s) with SSO")


def _audit(d: _Deployment) -> CheckResult:
    title = "Audit log enabled and every chain intact"
    try:
        sealer = sealer_for(d.settings, d.engine, d.clock)
        report = verify_chain(d.engine, d.tenant_id, sealer=sealer)
    except SealedContentError as exc:
        return CheckResult("audit_chain", title, "fail", str(exc), "set the KEK to verify")
    if not report.ok:
        bad = ", ".join(t.tenant_id for t in report.failures)[:300]
        return CheckResult(
            "audit_chain",
            title,
            "fail",
            f"chains that do not verify: {bad}",
            "run `bastion audit verify` and open an incident",
        )
    count = sum(t.count for t in report.tenants.values())
    return _ok("audit_chain", title, f"{len(report.tenants)} chain(s), {count} record(s) verify")


def _detection(d: _Deployment) -> CheckResult:
    title = "Detection on and incident playbooks enabled"
    if not d.settings.detection:
        return CheckResult(
            "playbooks",
            title,
            "fail",
            "BASTION_DETECTION is off",
            "turn detection on (the default)",
        )
    auto = [name for name, policy in d.tenants.values() if policy and policy.response.auto]
    if not auto:
        return CheckResult(
            "playbooks",
            title,
            "warn",
            "detection on; no [response.auto] rule",
            "map detectors to playbooks in [response.auto] (docs/detection-response.md)",
        )
    return _ok("playbooks", title, f"automatic playbooks in {len(auto)} tenant(s)")


def _scanners(d: _Deployment) -> CheckResult:
    title = "Input and output scanners on"
    gaps: list[str] = []
    for name, policy in d.tenants.values():
        if policy is None:
            gaps.append(f"{name}: policy does not load")
            continue
        missing = [s for s in INPUT_SCANNERS if s not in policy.policy.input]
        missing += [f"output:{s}" for s in OUTPUT_SCANNERS if s not in policy.policy.output]
        if missing:
            gaps.append(f"{name}: {', '.join(missing)}")
    if gaps:
        return CheckResult(
            "scanners",
            title,
            "fail",
            "; ".join(gaps)[:600],
            "restore the scanners in each tenant's policy",
        )
    return _ok("scanners", title, f"all {len(d.tenants)} tenant(s) scan input and output")


def _models(d: _Deployment) -> CheckResult:
    title = "Models pinned and registered"
    registry = ModelRegistry(d.engine, d.clock)
    registered = {v.alias for v in registry.current()}
    served = registry.served(d.settings.models)
    if not served:
        return CheckResult(
            "models_pinned",
            title,
            "fail",
            "no model configured",
            "configure [[models]] with exact upstream versions",
        )
    loose = [f"{m.name} ({m.target_model})" for m in served if not is_pinned(m.target_model)]
    unregistered = [m.name for m in served if m.name not in registered]
    if loose or unregistered:
        parts = [f"not pinned: {', '.join(loose)}"] if loose else []
        parts += [f"not yet registered: {', '.join(unregistered)}"] if unregistered else []
        return CheckResult(
            "models_pinned",
            title,
            "fail",
            "; ".join(parts)[:600],
            "name exact versions (upstream_model) and start the gateway once",
        )
    return _ok("models_pinned", title, f"{len(served)} model(s), each an exact version")


def _artifacts(d: _Deployment) -> CheckResult:
    title = "Local model artifacts match their pins"
    artifacts = local_artifacts(d.settings.policies_dir)
    bad = [a.name for a in artifacts if not a.intact]
    if bad:
        return CheckResult(
            "artifacts",
            title,
            "fail",
            f"not intact: {', '.join(bad)}",
            "reinstall the package, or restore the file the policy pins",
        )
    return _ok("artifacts", title, f"{len(artifacts)} artifact(s) intact")


def _residency(d: _Deployment) -> CheckResult:
    title = "Data residency satisfied by the database and SIEM sinks"
    ruled = [(n, p.residency) for n, p in d.tenants.values() if p and p.residency.active]
    if not ruled:
        return CheckResult(
            "residency",
            title,
            "warn",
            "no tenant has [residency] rules",
            "set allowed regions per classification in [residency]",
        )
    problems = []
    for name, rules in ruled:
        if not rules.permits(LABELS[-1], d.settings.database_region):
            problems.append(
                f"{name}: database in {d.settings.database_region or 'unspecified region'}"
            )
        for sink in d.settings.siem_sinks:
            if not rules.permits("internal", sink.region):
                problems.append(f"{name}: SIEM sink {sink.name} in {sink.region or 'unspecified'}")
    if problems:
        return CheckResult(
            "residency",
            title,
            "fail",
            "; ".join(problems)[:600],
            "set BASTION_DATABASE_REGION / sink regions, or move the component",
        )
    return _ok("residency", title, f"{len(ruled)} tenant(s) with rules; components comply")


def _redteam(d: _Deployment) -> CheckResult:
    title = "Red team run recently, nothing high or critical got through"
    directory = d.settings.data_dir / "redteam"
    report = latest_report(directory)
    if report is None:
        return CheckResult(
            "redteam",
            title,
            "fail",
            f"no report in {directory}",
            "run `bastion redteam --target URL --key KEY`",
        )
    age = d.clock() - report.finished_at
    if age > REDTEAM_MAX_AGE:
        return CheckResult(
            "redteam",
            title,
            "fail",
            f"last run {age.days} days ago",
            "run `bastion redteam` again (at least monthly)",
        )
    if report.exit_code:
        through = sum(1 for f in report.findings if f.failed)
        return CheckResult(
            "redteam",
            title,
            "fail",
            f"{through} high/critical attack(s) got through",
            "fix the findings in the report, then run it again",
        )
    return _ok("redteam", title, f"{len(report.findings)} attack(s), {age.days} day(s) ago")


def _siem(d: _Deployment) -> CheckResult:
    title = "Audit records flow to the SIEM; metrics protected"
    if not d.settings.siem_sinks:
        return CheckResult(
            "siem",
            title,
            "fail",
            "BASTION_SIEM_SINKS is empty",
            "forward the audit chain to the SIEM (docs/detection-response.md)",
        )
    if d.settings.metrics_token is None:
        return CheckResult(
            "siem",
            title,
            "warn",
            f"{len(d.settings.siem_sinks)} sink(s); /metrics off",
            "set BASTION_METRICS_TOKEN for Prometheus",
        )
    return _ok("siem", title, f"{len(d.settings.siem_sinks)} sink(s); /metrics behind a token")


def _probes(d: _Deployment) -> CheckResult:
    title = "Third-party model behaviour monitored"
    if d.settings.model_probe_seconds <= 0:
        return CheckResult(
            "model_probes",
            title,
            "warn",
            "BASTION_MODEL_PROBE_SECONDS is 0",
            "probe models on a schedule, e.g. every 3600 s",
        )
    return _ok("model_probes", title, f"every {d.settings.model_probe_seconds:g} s")


def _break_glass(d: _Deployment) -> CheckResult:
    title = "Console break-glass sign-in off"
    if d.settings.console_break_glass:
        return CheckResult(
            "break_glass", title, "warn", "BASTION_CONSOLE_BREAK_GLASS is on",
            "turn it off once the identity provider is back",
        )  # fmt: skip
    return _ok("break_glass", title, "off: the console signs in through SSO only")


CHECKS = (
    _encryption, _tls, _safe_setup, _sso, _audit, _detection, _scanners,
    _models, _artifacts, _residency, _redteam, _siem, _probes, _break_glass,
)  # fmt: skip


def _tenants(
    settings: Settings, engine: Engine, tenant_id: str | None, store: PolicyStore | None
) -> dict[str, tuple[str, ResolvedPolicy | None]]:
    if store is None:
        store = PolicyStore(
            settings.policies_dir, default_registry(), tenant_policies=TenantPolicies(engine)
        )
    query = select(Tenant.id, Tenant.name, Tenant.policy)
    if tenant_id is not None:
        query = query.where(Tenant.id == tenant_id)
    with read_snapshot(engine, tenant_id) as conn:
        rows = conn.execute(query).all()
    found: dict[str, tuple[str, ResolvedPolicy | None]] = {}
    for tenant_id, name, policy_name in rows:
        try:
            found[tenant_id] = (name, store.get(policy_name or "default"))
        except Exception:  # a policy that does not load fails the scanners item
            found[tenant_id] = (name, None)
    return found


def evaluate(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime],
    only: Sequence[str] = (),
    *,
    tenant_id: str | None = None,
    policies: PolicyStore | None = None,
) -> PostureReport:
    """Every check (or those named in ``only``) against this deployment; with
    ``tenant_id``, the tenant items for that tenant alone and its own audit chain (what
    the console shows a tenant: no other tenant's name or chain), on ``engine`` bound to
    it. ``policies``: the gateway's policy store (else one is built)."""
    tenants = _tenants(settings, engine, tenant_id, policies)
    deployment = _Deployment(settings, engine, clock, tenants, tenant_id)
    results = []
    for check in CHECKS:
        try:
            result = check(deployment)
        except (ArtifactIntegrityError, OSError, ValueError) as exc:
            name = check.__name__.lstrip("_")
            result = CheckResult(name, name, "fail", f"could not check: {type(exc).__name__}")
        if not only or result.id in only:
            results.append(result)
    return PostureReport(checked_at=clock(), results=tuple(results))
