"""The ``bastion`` command line. Commands are thin; services do the work."""

from __future__ import annotations

import typer

__all__ = ["build_app", "main"]


def build_app() -> typer.Typer:
    from bastion.cli.audit_cmd import audit_app
    from bastion.cli.backup_cmd import register as register_backup
    from bastion.cli.bom_cmd import bom
    from bastion.cli.console_cmd import console_app
    from bastion.cli.demo_cmd import demo
    from bastion.cli.dlp_cmd import dlp_app
    from bastion.cli.eval_cmd import eval_app
    from bastion.cli.incident_cmd import incident_app
    from bastion.cli.init_cmd import init
    from bastion.cli.keys_cmd import keys_app
    from bastion.cli.models_cmd import models_app
    from bastion.cli.monitor_cmd import monitor
    from bastion.cli.posture_cmd import posture
    from bastion.cli.redteam_cmd import redteam
    from bastion.cli.scan_cmd import scan
    from bastion.cli.secrets_cmd import secrets_app
    from bastion.cli.serve_cmd import serve
    from bastion.cli.sql_cmd import sql_app
    from bastion.cli.threat_cmd import threat_model

    app = typer.Typer(
        name="bastion",
        help="Bastion: a security gateway for enterprise AI.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.command()(init)
    app.command()(serve)
    app.command()(monitor)
    app.command()(scan)
    app.command()(demo)
    app.command()(bom)
    app.command()(posture)
    app.command(name="threat-model")(threat_model)
    app.command(name="redteam")(redteam)
    app.add_typer(keys_app(), name="keys")
    app.add_typer(audit_app(), name="audit")
    app.add_typer(incident_app(), name="incident")
    app.add_typer(secrets_app(), name="secrets")
    app.add_typer(models_app(), name="models")
    app.add_typer(console_app(), name="console")
    app.add_typer(eval_app(), name="eval")
    app.add_typer(dlp_app(), name="dlp")
    app.add_typer(sql_app(), name="sql")
    register_backup(app)
    return app


def main() -> None:
    build_app()()
