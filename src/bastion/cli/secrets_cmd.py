"""``bastion secrets set|list|delete``: credentials sealed at rest, never shown again."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from bastion.cli.common import die, now, open_admin_engine, provider_or_exit, settings_or_exit
from bastion.crypto import Keyring
from bastion.secrets import SecretError, SecretStore
from bastion.settings import Settings

__all__ = ["secrets_app"]


@contextmanager
def _store(settings: Settings) -> Iterator[SecretStore]:
    provider = provider_or_exit(settings)
    engine = open_admin_engine(settings)
    try:
        yield SecretStore(engine, Keyring(engine, provider, now), now)
    finally:
        engine.dispose()


def secrets_app() -> typer.Typer:
    app = typer.Typer(
        help="Store upstream provider keys and other credentials, sealed at rest.",
        no_args_is_help=True,
    )

    @app.command("set")
    def set_secret(
        name: str = typer.Argument(
            ..., help="The name a model (api_key_secret) or [sso.oidc] client_secret_name uses."
        ),
        kind: str = typer.Option("upstream_api_key", help="upstream_api_key or idp_client_secret."),
    ) -> None:
        """Store a secret read from standard input (never from the command line)."""
        if sys.stdin.isatty():
            value = typer.prompt(f"value of {name}", hide_input=True)
        else:
            value = sys.stdin.read().rstrip("\r\n")
        with _store(settings_or_exit()) as store:
            try:
                created = store.put(name, value, kind=kind)
            except SecretError as exc:
                die(str(exc))
        typer.echo(f"secret {name} {'stored' if created else 'replaced'} (sealed)")

    @app.command("list")
    def list_secrets(
        json_lines: bool = typer.Option(False, "--json", help="One JSON object per secret."),
    ) -> None:
        """Names, kinds and dates of stored secrets (never their values)."""
        with _store(settings_or_exit()) as store:
            infos = store.list()
        for info in infos:
            if json_lines:
                typer.echo(
                    json.dumps(
                        {
                            "name": info.name,
                            "kind": info.kind,
                            "created_at": info.created_at.isoformat(),
                            "updated_at": info.updated_at.isoformat(),
                        }
                    )
                )
            else:
                typer.echo(f"{info.name}\t{info.kind}\t{info.updated_at.isoformat()}")

    @app.command("delete")
    def delete_secret(name: str = typer.Argument(...)) -> None:
        """Delete a secret; models that name it stop starting."""
        with _store(settings_or_exit()) as store:
            deleted = store.delete(name)
        if not deleted:
            die(f"no secret named {name!r}")
        typer.echo(f"secret {name} deleted")

    return app
