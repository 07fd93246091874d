"""``bastion dlp purge``: delete expired pseudonym vaults of every tenant."""

from __future__ import annotations

import typer

from bastion.cli.common import now, open_admin_engine, settings_or_exit

__all__ = ["dlp_app"]


def dlp_app() -> typer.Typer:
    app = typer.Typer(help="Data loss prevention upkeep.", no_args_is_help=True)

    @app.command("purge")
    def purge() -> None:
        """Delete every tenant's expired pseudonym vaults (run it from cron; a save also
        purges its own tenant's)."""
        from bastion.dlp.vault import purge_expired

        settings = settings_or_exit()
        engine = open_admin_engine(settings)
        try:
            removed = purge_expired(engine, now())
        finally:
            engine.dispose()
        typer.echo(f"purged {removed} expired vault(s)")

    return app
