"""``/console/policy``: the tenant's policy, read (``policies.read``) and edited
(``policies.write``, step-up): validated before saving, dry-run on sample prompts.

Saving is what ``PUT /admin/policy`` does: the text must resolve (every table checked,
every scanner built), it becomes the tenant's next policy version, the gateway's cache
of verified keys is dropped (they name the previous policy), and the change is an
``admin_change`` record (the text's SHA-256, never the text). A dry run scans sample
prompts with the *candidate* policy's input scanners and shows each decision and its
reasons; nothing is sent anywhere and nothing is stored.
"""

from __future__ import annotations

import hashlib
import uuid

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from bastion.console.kit import ConsoleKit
from bastion.console.pages import page_named
from bastion.gateway.admin.audit import AdminAudit
from bastion.gateway.policies import ResolvedPolicy
from bastion.gateway.tenant_policies import TenantPolicies, tenant_policy_name
from bastion.policy import PolicyError, parse_policy
from bastion.scanners.base import ScanContext, Stage

__all__ = ["router"]

MAX_POLICY_CHARS = 65_536
MAX_SAMPLES = 10
MAX_SAMPLE_CHARS = 4_000
_FORM_MAX = MAX_POLICY_CHARS + MAX_SAMPLES * MAX_SAMPLE_CHARS + 4_096


def _current_text(kit: ConsoleKit, tenant_id: str, policy: str) -> str:
    """The tenant's policy as text: its stored version, its file, or a note that it
    runs the built-in default."""
    versioned = tenant_policy_name(policy)
    if versioned is not None:
        body = TenantPolicies(kit.runtime.engine).body(*versioned)
        return body or ""
    directory = kit.runtime.settings.policies_dir
    path = directory / f"{policy}.toml" if directory is not None else None
    if path is not None and path.is_file():
        return path.read_text(encoding="utf-8")
    return "# The built-in default policy. Add tables here to change it.\n"


def _check(kit: ConsoleKit, text: str) -> tuple[ResolvedPolicy | None, str]:
    if len(text) > MAX_POLICY_CHARS:
        return None, f"The policy is longer than {MAX_POLICY_CHARS} characters."
    try:
        return kit.runtime.policies.check(parse_policy(text, "tenant", "the policy")), ""
    except (PolicyError, ValueError) as exc:
        return None, f"Invalid policy: {str(exc)[:300]}"


def router(kit: ConsoleKit) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    page = page_named("policy")
    admin_audit = AdminAudit(kit.runtime.audit)

    @api.get(page.path)
    async def show(request: Request) -> Response:
        caller = await kit.open_page(request, page)
        if isinstance(caller, Response):
            return caller
        p = caller.principal
        text = await anyio.to_thread.run_sync(_current_text, kit, p.tenant_id, p.policy)
        can_write = kit.callers_allowed(caller, "policies.write")
        return kit.render(
            "policy.html", caller, page, text=text, policy=p.policy, can_write=can_write
        )

    @api.post(page.path + "/dry-run")
    async def dry_run(request: Request) -> Response:
        caller = await kit.act(request, "policies.read", page.path)
        if isinstance(caller, Response):
            return caller
        form = await kit.form(request, _FORM_MAX) or {}
        resolved, error = _check(kit, form.get("toml", ""))
        if resolved is None:
            return kit.fragment(error or "The form is too large.")
        samples = [s[:MAX_SAMPLE_CHARS] for s in form.get("samples", "").splitlines() if s.strip()]
        rows = []
        for sample in samples[:MAX_SAMPLES]:
            context = ScanContext(
                stage=Stage.INPUT,
                role="user",
                request_id=f"dry-{uuid.uuid4().hex}",
                tenant=caller.principal.tenant_id,
            )
            verdict = await resolved.pipeline.run(Stage.INPUT, sample, context)
            rows.append((sample, verdict.decision.name.lower(), ", ".join(verdict.reasons)))
        return kit.renderer.page("policy_dry_run.html", {"rows": rows})

    @api.post(page.path)
    async def save(request: Request) -> Response:
        caller = await kit.act(request, "policies.write", page.path)
        if isinstance(caller, Response):
            return caller
        form = await kit.form(request, _FORM_MAX) or {}
        text = form.get("toml", "")
        resolved, error = _check(kit, text)
        if resolved is None:
            return kit.fragment(error or "The form is too large.")
        p = caller.principal
        name = await anyio.to_thread.run_sync(
            TenantPolicies(kit.runtime.engine).write,
            p.tenant_id,
            text,
            p.user_id,
            kit.runtime.clock(),
        )
        kit.runtime.auth_cache.clear()  # cached principals still name the previous policy
        digest = hashlib.sha256(text.encode()).hexdigest()
        await admin_audit.record(
            caller,
            "POST /console/policy",
            kit.runtime.clock(),
            action="policy.write",
            target=p.tenant_id,
            changes={"policy": name, "sha256": digest},
        )
        return kit.fragment(f"Saved as {name}; new requests use it.", code="saved")

    return api
