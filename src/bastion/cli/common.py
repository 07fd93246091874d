"""Helpers shared by CLI commands: settings, engines, clean exits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy import Engine

from bastion.crypto import KeyProvider
from bastion.settings import Settings, load_settings
from bastion.store import is_current, make_engine

__all__ = [
    "die",
    "now",
    "open_admin_engine",
    "open_engine",
    "provider_or_exit",
    "settings_or_exit",
]


def die(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"bastion: {message}", err=True)
    raise typer.Exit(code)


def now() -> datetime:
    return datetime.now(UTC)


def settings_or_exit(**overrides: Any) -> Settings:
    """Settings, or a readable message naming the bad setting and exit code 2."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  BASTION_{loc.upper()}: {err['msg']}")
        die("invalid configuration:\n" + "\n".join(lines))
    except ValueError as exc:
        die(str(exc))


def open_engine(settings: Settings, *, require_current: bool = True) -> Engine:
    """The application's connection (on PostgreSQL: a role held to its tenant by RLS)."""
    return _open(settings.database_url, settings, require_current=require_current)


def open_admin_engine(settings: Settings, *, require_current: bool = True) -> Engine:
    """The owner connection for migrations and cross-tenant maintenance."""
    url = settings.database_admin_url or settings.database_url
    return _open(url, settings, require_current=require_current)


def _open(url: str, settings: Settings, *, require_current: bool) -> Engine:
    engine = make_engine(url, sqlite_synchronous=settings.sqlite_synchronous)
    if require_current:
        try:
            current = is_current(engine)
        except Exception as exc:  # the driver's message may name the host, never secrets
            die(f"cannot open the database ({type(exc).__name__}); check BASTION_DATABASE_URL")
        if not current:
            die("the database is not initialised or not migrated; run `bastion init`")
    return engine


def provider_or_exit(
    settings: Settings,
    missing: str = "no key-encryption key is configured (BASTION_KEK_FILE); run `bastion init`",
) -> KeyProvider:
    """The configured KEK provider, or exit 2 saying what to fix."""
    from bastion.crypto.select import provider_for

    try:
        provider = provider_for(settings)
    except (ValueError, ImportError) as exc:
        die(str(exc))
    if provider is None:
        die(missing)
    return provider
