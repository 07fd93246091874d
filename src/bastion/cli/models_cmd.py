"""``bastion models list|history|register|rollback|use``: the model registry.

Deployment operator's acts (they change what every tenant's requests reach), so on
the command line and the owner connection, never in the tenant API. Each change is
recorded in the deployment's audit chain with the operator as ``cli``; running
gateways serve it within ``BASTION_MODELS_REFRESH_SECONDS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError

from bastion.cli.common import die, now, open_admin_engine, settings_or_exit
from bastion.governance.registry import ModelRegistry, ModelVersion, RegistryError
from bastion.settings import ModelConfig

__all__ = ["models_app"]

ACTOR = "cli"


@contextmanager
def _registry() -> Iterator[ModelRegistry]:
    from bastion.audit import sealer_for
    from bastion.governance.audit import recorder

    settings = settings_or_exit()
    engine = open_admin_engine(settings)
    try:
        yield ModelRegistry(engine, now, recorder(engine, sealer_for(settings, engine, now)))
    finally:
        engine.dispose()


def _shown(version: ModelVersion, serving: bool | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "alias": version.alias,
        "version": version.version,
        "provider": version.provider,
        "upstream_model": version.upstream_model,
        "pinned": version.pinned,
        "base_url": version.base_url,
        "region": version.region,
        "fingerprint": version.fingerprint,
        "source": version.source,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "note": version.note,
    }
    if serving is not None:
        shown["serving"] = serving
    return shown


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console(width=200).print(table)


def models_app() -> typer.Typer:
    app = typer.Typer(
        help="The model registry: pinned versions, history and rollback.", no_args_is_help=True
    )

    @app.command("list")
    def list_models(
        as_json: bool = typer.Option(False, "--json", help="One JSON object per alias."),
    ) -> None:
        """Each alias and the version it serves now."""
        with _registry() as registry:
            rows = [_shown(v) for v in registry.current()]
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row, sort_keys=True))
            return
        _table(rows, ("alias", "version", "provider", "upstream_model", "pinned", "region"))

    @app.command("history")
    def history(
        alias: str = typer.Argument(..., help="The model name clients use."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per version."),
    ) -> None:
        """Every version of an alias, oldest first, and which one it serves."""
        with _registry() as registry:
            versions = registry.history(alias)
            serving = {v.version for v in registry.current() if v.alias == alias}
        if not versions:
            die(f"no model {alias!r} in the registry", 1)
        rows = [_shown(v, v.version in serving) for v in versions]
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row, sort_keys=True))
            return
        _table(rows, ("version", "serving", "upstream_model", "region", "source", "created_at"))

    @app.command("register")
    def register(
        alias: str = typer.Argument(..., help="The model name clients use."),
        base_url: str = typer.Option(..., help="The upstream's base URL."),
        upstream_model: str = typer.Option(..., help="The exact model id sent upstream."),
        provider: str = typer.Option("openai", help="openai or anthropic."),
        region: str = typer.Option("", help="Where the upstream processes requests."),
        api_key_secret: str | None = typer.Option(None, help="A sealed secret's name."),
        api_key_env: str | None = typer.Option(None, help="An environment variable's name."),
        note: str = typer.Option("", help="Why (kept with the version)."),
    ) -> None:
        """Register a new version of an alias and serve it."""
        try:
            config = ModelConfig(
                name=alias,
                provider=provider,
                base_url=base_url,
                upstream_model=upstream_model,
                region=region,
                api_key_secret=api_key_secret,
                api_key_env=api_key_env,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "model"
            die(f"invalid model: {where}: {first['msg']}")
        with _registry() as registry:
            try:
                version = registry.register(config, actor=ACTOR, note=note)
            except RegistryError as exc:
                die(str(exc), 1)
        pinned = "" if version.pinned else " (not pinned: name an exact version)"
        typer.echo(f"model {alias}: version {version.version} registered and serving{pinned}")

    @app.command("rollback")
    def rollback(alias: str = typer.Argument(..., help="The model name clients use.")) -> None:
        """Serve the version before the current one, in one step."""
        with _registry() as registry:
            try:
                old, new = registry.rollback(alias, actor=ACTOR)
            except RegistryError as exc:
                die(str(exc), 1)
        typer.echo(f"model {alias}: rolled back from version {old} to {new}")

    @app.command("use")
    def use(
        alias: str = typer.Argument(..., help="The model name clients use."),
        version: int = typer.Argument(..., help="A registered version."),
    ) -> None:
        """Serve a given registered version of an alias."""
        with _registry() as registry:
            try:
                old, new = registry.use(alias, version, actor=ACTOR)
            except RegistryError as exc:
                die(str(exc), 1)
        typer.echo(f"model {alias}: now serving version {new} (was {old})")

    return app
