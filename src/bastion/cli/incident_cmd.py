"""``bastion incident run|list|show|close|isolations|release``: incident response from the
deployment's own command line (the API is ``/v1/incidents``).

The operator acts as ``cli`` in the incident's timeline and the audit chain. ``run``
prints the incident as JSON on stdout; replacement API keys a
``compromised_credentials`` run issues are printed there once and never stored in
clear. New upstream provider keys (``--upstream-key NAME``, repeatable) are read from
stdin, one line per name in the same order: the CLI is the deployment operator's,
so only it rotates the keys every tenant's models use.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import typer

from bastion.cli.common import die, settings_or_exit
from bastion.identity import IdentityError, IdentityService

if TYPE_CHECKING:
    from bastion.gateway.runtime import Runtime
    from bastion.response import Incident, IsolationKind

__all__ = ["incident_app"]

_ACTOR = "cli"
_KINDS = ("session", "conversation", "key")


def _shown(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "playbook": incident.playbook,
        "status": incident.status,
        "trigger": incident.trigger,
        "user_id": incident.user_id,
        "session_id": incident.session_id,
        "key_id": incident.key_id,
        "conversation_id": incident.conversation_id,
        "opened_by": incident.opened_by,
        "opened_at": incident.opened_at.isoformat(),
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "steps": [
            {"seq": s.seq, "step": s.step, "status": s.status, "detail": dict(s.detail)}
            for s in incident.steps
        ],
    }


@contextmanager
def _runtime() -> Iterator[Runtime]:
    """The gateway's services (no detection, no forwarding); its database connections
    are closed on the way out, whatever the way."""
    from bastion.gateway.runtime import Runtime

    settings = settings_or_exit()
    runtime = Runtime.build(settings.model_copy(update={"detection": False, "siem_sinks": []}))
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def _tenant(runtime: Runtime, name: str) -> str:
    try:
        return IdentityService(runtime.engine).tenant_id(name)
    except IdentityError as exc:
        die(str(exc))


def _user(runtime: Runtime, tenant_id: str, email: str | None) -> str | None:
    if email is None:
        return None
    for user in runtime.response.directory.users(tenant_id):
        if user.email == email.strip().lower():
            return user.id
    die(f"no user {email!r:.80} in this tenant")


async def _with(runtime: Runtime, work: Any) -> Any:
    await runtime.start(monitoring=False)
    try:
        return await work(runtime)
    finally:
        await runtime.aclose()


def incident_app() -> typer.Typer:
    app = typer.Typer(help="Incident playbooks, timelines and isolations.", no_args_is_help=True)

    @app.command("run")
    def run(
        playbook: str = typer.Argument(
            ..., help="injection, data_leakage, harmful_output or compromised_credentials"
        ),
        tenant: str = typer.Option(..., help="The tenant's name."),
        user: str | None = typer.Option(None, help="The user's email."),
        key: str | None = typer.Option(None, "--key-id", help="An API key's id."),
        session: str | None = typer.Option(None, "--session-id", help="A session's id."),
        conversation: str | None = typer.Option(
            None, "--conversation-id", help="An assistant conversation's id."
        ),
        request: str | None = typer.Option(None, "--request-id", help="An audit record's."),
        upstream_key: list[str] = typer.Option(
            [], help="A sealed upstream key to replace (value from stdin, one line each)."
        ),
    ) -> None:
        """Open an incident and run a playbook now; prints it as JSON."""
        from bastion.response import PLAYBOOKS, Subject, run_playbook

        if playbook not in PLAYBOOKS:
            die(f"unknown playbook {playbook!r:.40}; known: {', '.join(PLAYBOOKS)}")
        values: dict[str, str] = {}
        if upstream_key:
            lines = sys.stdin.read().splitlines()
            if len(lines) < len(upstream_key) or not all(lines[: len(upstream_key)]):
                die("give one new value per --upstream-key on stdin, one line each")
            values = dict(zip(upstream_key, lines, strict=False))
        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)
            user_id = _user(runtime, tenant_id, user)
            try:
                subject = Subject(
                    tenant_id=tenant_id,
                    user_id=user_id,
                    session_id=session,
                    key_id=key,
                    conversation_id=conversation,
                    request_id=request,
                )
            except ValueError as exc:
                die(str(exc))
            if subject == Subject(tenant_id=tenant_id):
                die("name the incident's subject: --user, --key-id, --session-id, ...")

            async def work(rt: Runtime) -> Any:
                return await run_playbook(
                    playbook,
                    subject,
                    rt.response,
                    trigger="manual",
                    opened_by=_ACTOR,
                    upstream_values=values,
                )

            report = asyncio.run(_with(runtime, work))
        shown = _shown(report.incident)
        shown["issued_keys"] = [
            {"key_id": k.id, "user_email": k.user_email, "secret": k.secret}
            for k in report.issued_keys
        ]
        typer.echo(json.dumps(shown, indent=2, sort_keys=True))

    @app.command("list")
    def listing(
        tenant: str = typer.Option(..., help="The tenant's name."),
        status: str | None = typer.Option(None, help="open, contained or closed."),
    ) -> None:
        """The tenant's incidents, newest first: id, status, playbook, opened."""
        from bastion.response import IncidentStore

        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)
            store = IncidentStore(runtime.engine, runtime.clock, runtime.keyring)
            found = store.list(tenant_id, statuses=(status,) if status else ())
        for incident in found:
            typer.echo(
                f"{incident.id}  {incident.status:<9}  {incident.playbook:<23}  "
                f"{incident.opened_at.isoformat()}  {incident.opened_by}"
            )

    @app.command("show")
    def show(
        incident_id: str = typer.Argument(...),
        tenant: str = typer.Option(..., help="The tenant's name."),
    ) -> None:
        """One incident and its timeline, as JSON (identifiers and counts only)."""
        from bastion.response import IncidentNotFound, IncidentStore

        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)
            store = IncidentStore(runtime.engine, runtime.clock, runtime.keyring)
            try:
                incident = store.get(tenant_id, incident_id)
            except IncidentNotFound:
                die("no such incident in this tenant")
        typer.echo(json.dumps(_shown(incident), indent=2, sort_keys=True))

    @app.command("close")
    def close(
        incident_id: str = typer.Argument(...),
        tenant: str = typer.Option(..., help="The tenant's name."),
    ) -> None:
        """Close an incident (its isolations stay until released)."""
        from bastion.response import IncidentNotFound, close_incident

        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)

            async def work(rt: Runtime) -> bool:
                return await close_incident(rt.response, tenant_id, incident_id, _ACTOR)

            try:
                closed = asyncio.run(_with(runtime, work))
            except IncidentNotFound:
                die("no such incident in this tenant")
        typer.echo("closed" if closed else "already closed")

    @app.command("isolations")
    def isolations(tenant: str = typer.Option(..., help="The tenant's name.")) -> None:
        """The tenant's active isolations, newest first: kind, id, since, incident."""
        from bastion.response import Isolations

        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)
            found = Isolations(runtime.engine, runtime.clock).listed(tenant_id)
        for isolation in found:
            typer.echo(
                f"{isolation.kind:<12}  {isolation.ref}  {isolation.since.isoformat()}  "
                f"{isolation.incident_id}  {isolation.playbook}"
            )

    @app.command("release")
    def release(
        kind: str = typer.Argument(..., help="session, conversation or key"),
        ref: str = typer.Argument(..., help="Its id."),
        tenant: str = typer.Option(..., help="The tenant's name."),
    ) -> None:
        """Lift an isolation: the session, conversation or key may be used again."""
        from bastion.response import release_isolation

        if kind not in _KINDS:
            die(f"kind must be one of {', '.join(_KINDS)}")
        chosen = cast("IsolationKind", kind)
        with _runtime() as runtime:
            tenant_id = _tenant(runtime, tenant)

            async def work(rt: Runtime) -> bool:
                return await release_isolation(rt.response, tenant_id, chosen, ref, _ACTOR)

            released = asyncio.run(_with(runtime, work))
        if not released:
            die("no active isolation of that session, conversation or key", code=1)
        typer.echo("released")

    return app
