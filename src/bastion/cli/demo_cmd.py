"""``bastion demo``: a walkthrough against a scripted stand-in for a real model.

The demo upstream is NOT a language model: it is a deliberately naive script that
obeys any instruction and repeats its system prompt when asked, so that Bastion's
controls have something hostile to stop.
"""

from __future__ import annotations

import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import typer

from bastion.cli.demo_actions_tour import (
    actions_policy,
    actions_tour,
    prepare_helpdesk,
    webhook_receiver,
)
from bastion.cli.demo_console import demo_console_admin
from bastion.cli.demo_data_tour import data_tour, prepare_data
from bastion.cli.demo_response_tour import RESPONSE_POLICY, response_tour
from bastion.cli.demo_walkthrough import walkthrough
from bastion.cli.init_cmd import write_kek

__all__ = ["demo"]


def demo(
    port: int = typer.Option(8080, help="Port for the gateway."),
    data_dir: Path | None = typer.Option(None, help="Keep demo state here (default: temp)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Keep serving after the tour."),
) -> None:
    """Start Bastion with a demo tenant and a scripted demo upstream, and tour it."""
    import uvicorn

    from bastion.audit import verify_chain
    from bastion.gateway.app import create_app
    from bastion.gateway.runtime import Runtime, utc_now
    from bastion.gateway.server import uvicorn_config
    from bastion.identity import IdentityService
    from bastion.settings import ModelConfig, Settings
    from bastion.store import make_engine, upgrade
    from bastion.testing import ScriptedUpstream

    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bastion-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        write_kek(data_dir / "kek")
        upstream = stack.enter_context(ScriptedUpstream.running())
        hook_port, received = stack.enter_context(webhook_receiver())
        policies_dir = data_dir / "policies"
        policies_dir.mkdir(exist_ok=True)
        (policies_dir / "default.toml").write_text(actions_policy(hook_port) + RESPONSE_POLICY)
        settings = Settings(
            data_dir=data_dir,
            host="127.0.0.1",
            port=port,
            policies_dir=policies_dir,
            actions_allowed_hosts=["127.0.0.1"],
            console_break_glass=True,  # the demo tenant has no SSO (see demo_console)
            data_sources_sqlite_dir=data_dir / "sources",
            models=[
                ModelConfig(
                    name="demo-model",
                    base_url=upstream.openai_base_url,
                    upstream_model="scripted-naive-model",
                )
            ],
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        identity = IdentityService(engine)
        identity.ensure_tenant("demo", utc_now())
        key = identity.create_key("demo", "demo@localhost", utc_now(), name="demo").secret
        users = prepare_data(engine, identity, "demo", data_dir / "sources", utc_now())
        helpdesk = prepare_helpdesk(data_dir / "sources")
        approver = identity.create_key(
            "demo", "dave@demo.test", utc_now(), name="demo", role="approver"
        ).secret
        responders = {
            name: identity.create_key("demo", email, utc_now(), name="demo", role=role).secret
            for name, email, role in (
                ("mallory", "mallory@demo.test", "member"),
                ("sam", "sam@demo.test", "security_analyst"),
            )
        }
        console_password = demo_console_admin(engine, data_dir, utc_now)
        runtime = Runtime.build(settings, engine=engine)
        server = uvicorn.Server(uvicorn_config(settings, app=create_app(runtime)))
        thread = threading.Thread(target=server.run, name="bastion-demo", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                typer.echo(f"bastion: could not listen on port {port}; try --port", err=True)
                raise typer.Exit(1)
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port}/v1"
        typer.echo(f"Bastion demo gateway: {base_url}")
        typer.echo(f"Demo API key:          {key}")
        typer.echo(
            f"Console:               http://127.0.0.1:{port}/console (break-glass sign-in: "
            f"organisation demo, admin@demo.test, password {console_password})"
        )
        typer.echo("Demo upstream:         a scripted stand-in, NOT a real model\n")
        walkthrough(base_url, key)
        data_tour(f"http://127.0.0.1:{port}", users, data_dir / "sources")
        actions_tour(
            f"http://127.0.0.1:{port}",
            {"carol": users.carol, "alice": users.alice, "dave": approver},
            f"sqlite:///{helpdesk}",
            received,
        )
        response_tour(f"http://127.0.0.1:{port}", responders)
        typer.echo("\n== 9. bastion audit verify")
        report = verify_chain(engine, sealer=runtime.sealer)
        typer.echo(report.describe())
        typer.echo(f"\n(run it yourself: BASTION_DATA_DIR={data_dir} bastion audit verify)")
        if wait:
            typer.echo("\nServing until Ctrl-C. Point any OpenAI client at the URL above.")
            try:
                while thread.is_alive():
                    thread.join(0.5)
            except KeyboardInterrupt:
                pass
        server.should_exit = True
        thread.join(10)
        if not report.ok:
            raise typer.Exit(1)
