"""``bastion serve``: refuse unsafe setups, then run the gateway under uvicorn."""

from __future__ import annotations

import os

import typer
import uvicorn

from bastion.cli.common import open_engine, settings_or_exit
from bastion.logs import configure_logging
from bastion.settings import unsafe_reasons

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
    problems = unsafe_reasons(settings)
    if problems and not dev:
        lines = "\n".join(f"  - {p}" for p in problems)
        typer.echo(f"bastion: refusing to start with an unsafe setup:\n{lines}", err=True)
        typer.echo("Fix these, or pass --dev to run anyway on a development machine.", err=True)
        raise typer.Exit(2)
    for problem in problems:
        typer.echo(f"bastion: WARNING (--dev): {problem}", err=True)
    open_engine(settings).dispose()
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
