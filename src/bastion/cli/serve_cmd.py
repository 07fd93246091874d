"""``bastion serve``: refuse unsafe setups, then run the gateway under uvicorn.

Unsafe includes a PostgreSQL connection that row-level security would not hold to
one tenant (a superuser, BYPASSRLS, the tables' owner; see ``bastion.store.rls``).
"""

from __future__ import annotations

import os

import typer
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from bastion.cli.common import die, now, open_engine, settings_or_exit
from bastion.crypto.select import keyring_for
from bastion.logs import configure_logging
from bastion.secrets import SecretError, SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.settings import Settings, unsafe_reasons
from bastion.store.rls import isolation_problems

__all__ = ["serve"]


def serve(
    host: str | None = typer.Option(None, help="Address to bind (BASTION_HOST)."),
    port: int | None = typer.Option(None, help="Port (BASTION_PORT)."),
    workers: int | None = typer.Option(None, help="Worker processes (BASTION_WORKERS)."),
    dev: bool = typer.Option(False, "--dev", help="Allow an unsafe setup, for development."),
) -> None:
    """Serve the gateway. Refuses an unsafe configuration unless --dev."""
    from bastion.gateway.server import uvicorn_config

    settings = settings_or_exit(host=host, port=port, workers=workers)
    problems = unsafe_reasons(settings) + _database_problems(settings)
    if problems and not dev:
        lines = "\n".join(f"  - {p}" for p in problems)
        typer.echo(f"bastion: refusing to start with an unsafe setup:\n{lines}", err=True)
        typer.echo("Fix these, or pass --dev to run anyway on a development machine.", err=True)
        raise typer.Exit(2)
    for problem in problems:
        typer.echo(f"bastion: WARNING (--dev): {problem}", err=True)
    _open_model_keys(settings)
    # Worker processes rebuild settings from the environment: pass CLI overrides on.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"BASTION_{name}"] = str(value)
    scheme = "https" if settings.tls_cert_file else "http"
    typer.echo(f"bastion: serving on {scheme}://{settings.host}:{settings.port}/v1", err=True)
    configure_logging(settings.log_level)
    config = uvicorn_config(settings)
    server = uvicorn.Server(config)
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()


def _database_problems(settings: Settings) -> list[str]:
    engine = open_engine(settings, require_current=False)
    try:
        return isolation_problems(engine)
    except SQLAlchemyError:
        return []  # unreachable: open_engine() below refuses to start and says why
    finally:
        engine.dispose()


def _open_model_keys(settings: Settings) -> None:
    """Refuse to start when a model's sealed upstream key is missing or will not open."""
    engine = open_engine(settings)
    try:
        if any(model.api_key_secret for model in settings.models):
            keyring = keyring_for(settings, engine, now)
            open_model_keys(settings.models, SecretStore(engine, keyring, now) if keyring else None)
    except SecretError as exc:
        die(str(exc))
    finally:
        engine.dispose()
