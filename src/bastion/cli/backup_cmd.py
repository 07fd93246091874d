"""``bastion backup --out FILE`` and ``bastion restore FILE``.

Both use the owner connection (``BASTION_DATABASE_ADMIN_URL``, else
``BASTION_DATABASE_URL``) and the key-encryption key; they print names, counts and
public key ids, never content or key material.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from sqlalchemy.exc import DBAPIError

from bastion.audit import AuditSealer
from bastion.backup import (
    ArchiveDamaged,
    ArchiveError,
    ArchiveHeader,
    NotAnArchive,
    RestoreError,
    RevisionMismatch,
    TargetNotEmpty,
    UnsupportedArchive,
    UnsupportedColumn,
    check_empty,
    open_archive,
    restore_backup,
    write_backup,
)
from bastion.cli.common import die, now, open_admin_engine, provider_or_exit, settings_or_exit
from bastion.crypto import Keyring
from bastion.crypto.providers import KeyProviderUnavailable
from bastion.store.tenancy import TenantScopeError, maintenance

__all__ = ["backup", "register", "restore"]

_NO_KEK = (
    "backup and restore need the key-encryption key: set BASTION_KEK_FILE "
    "(or BASTION_KEK) to the KEK the store was written under"
)


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the top-level command line."""
    app.command()(backup)
    app.command()(restore)


def backup(
    out: Path = typer.Option(..., "--out", "-o", help="The archive to write (must not exist)."),
) -> None:
    """Write an encrypted archive of the whole store (every tenant)."""
    settings = settings_or_exit()
    provider = provider_or_exit(settings, _NO_KEK)
    if out.exists():
        die(f"{out} already exists; backups never overwrite a file")
    if not out.parent.is_dir():
        die(f"directory {out.parent} does not exist")
    partial = out.with_name(out.name + ".partial")
    engine = open_admin_engine(settings)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        engine.dispose()
        die(f"{partial} exists: another backup is running, or remove it")
    try:
        with os.fdopen(fd, "wb") as fh:
            summary = write_backup(engine, provider, fh, now=now(), progress=_echo_table)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, out)
    except (UnsupportedColumn, TenantScopeError, KeyProviderUnavailable) as exc:
        partial.unlink(missing_ok=True)
        die(str(exc), 1 if isinstance(exc, KeyProviderUnavailable) else 2)
    except DBAPIError as exc:
        partial.unlink(missing_ok=True)
        die(f"cannot read the database ({type(exc.orig or exc).__name__}); nothing was written")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    typer.echo(
        f"wrote {out}: {len(summary.tables)} tables, {summary.rows} rows, "
        f"{summary.bytes_written} bytes"
    )
    typer.echo(_describe(summary.header))


def restore(
    archive: Path = typer.Argument(..., help="An archive written by `bastion backup`."),
) -> None:
    """Load an archive into the configured EMPTY database, then verify every audit chain."""
    settings = settings_or_exit()
    provider = provider_or_exit(settings, _NO_KEK)
    if not archive.is_file():
        die(f"{archive}: no such file")
    engine = open_admin_engine(settings)
    try:
        check_empty(engine)
        with archive.open("rb") as fh:
            reader = open_archive(fh, provider)
            typer.echo(_describe(reader.header))
            sealer = AuditSealer(Keyring(maintenance(engine), provider, now))
            summary = restore_backup(engine, reader, sealer=sealer)
    except (
        TargetNotEmpty,
        RevisionMismatch,
        NotAnArchive,
        UnsupportedArchive,
        TenantScopeError,
    ) as exc:
        die(str(exc))
    except ArchiveDamaged as exc:
        hint = ""
        if exc.kek_id is not None and exc.kek_id != provider.key_id:
            hint = f" (it names KEK {exc.kek_id}; the configured KEK is {provider.key_id})"
        die(f"{exc}{hint}; nothing was written", 1)
    except (ArchiveError, RestoreError, KeyProviderUnavailable) as exc:
        die(str(exc), 1)
    except DBAPIError as exc:
        die(f"cannot use the database ({type(exc.orig or exc).__name__})", 1)
    finally:
        engine.dispose()
    for name, rows in summary.tables.items():
        _echo_table(name, rows)
    typer.echo(f"restored {len(summary.tables)} tables, {summary.rows} rows")
    for tenant, count in summary.audit.items():
        typer.echo(f"  audit chain of tenant {tenant}: ok, {count} records verified")


def _echo_table(name: str, rows: int) -> None:
    typer.echo(f"  {name}: {rows} rows")


def _describe(header: ArchiveHeader) -> str:
    created = header.created_at.isoformat(timespec="seconds")
    return (
        f"archive {header.archive_id} (fingerprint {header.fingerprint}), made {created} "
        f"at schema revision {header.revision}, key wrapped by KEK {header.kek_id}"
    )
