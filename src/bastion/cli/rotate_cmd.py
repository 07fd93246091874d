"""``bastion keys rotate``: the key-encryption key (--kek) or a tenant's data keys (--dek)."""

from __future__ import annotations

from pathlib import Path

import typer

from bastion.cli.common import die, now, open_admin_engine, provider_or_exit, settings_or_exit
from bastion.crypto import DecryptionError, KeyProvider, Keyring, LocalKeyProvider, UnwrapError
from bastion.crypto.columns import SEALED_COLUMNS
from bastion.crypto.providers import KeyProviderUnavailable
from bastion.crypto.rotation import RotationError, rotate_data_key
from bastion.identity import IdentityError, IdentityService
from bastion.settings import Settings, decode_kek, read_kek
from bastion.store.tenancy import TenantScopeError, maintenance

__all__ = ["rotate"]

_DEK_PURPOSES = ("app", "audit")


def rotate(
    kek: bool = typer.Option(False, "--kek", help="Re-wrap every data key under a new KEK."),
    new_kek_file: Path | None = typer.Option(
        None, help="With --kek: file with the new key-encryption key (32 bytes, base64)."
    ),
    dek: str | None = typer.Option(
        None, "--dek", metavar="TENANT", help="Rotate a tenant's data keys (name or id)."
    ),
    purpose: str = typer.Option("all", help="With --dek: app, audit or all."),
    batch: int = typer.Option(500, min=1, max=100_000, help="With --dek: rows per transaction."),
) -> None:
    """Rotate keys online: running gateways keep serving throughout."""
    if kek == (dek is not None):
        die("say what to rotate: --kek (re-wrap every data key) or --dek TENANT")
    settings = settings_or_exit()
    if kek:
        _rotate_kek(settings, new_kek_file)
    else:
        assert dek is not None
        _rotate_dek(settings, dek, purpose, batch)


def _current_kek(settings: Settings) -> bytes:
    try:
        old = read_kek(settings)
    except ValueError as exc:
        die(str(exc))
    if old is None:
        die("no current key-encryption key is configured (BASTION_KEK_FILE)")
    return old


def _rewrap(settings: Settings, old: KeyProvider, new: KeyProvider) -> int:
    engine = open_admin_engine(settings)
    try:
        return Keyring(maintenance(engine), old, now).rewrap_all(new)
    except UnwrapError:
        die("the configured KEK does not open every data key; nothing was changed")
    except (KeyProviderUnavailable, TenantScopeError) as exc:
        die(f"{exc}; nothing was changed")
    finally:
        engine.dispose()


def _rotate_kek(settings: Settings, new_kek_file: Path | None) -> None:
    if settings.kek_provider != "local":
        if new_kek_file is not None:
            die(
                "--new-kek-file is for the local provider; with Vault or KMS, rotate the "
                "key there first, then run `bastion keys rotate --kek` to re-wrap every "
                "data key under its latest version"
            )
        provider = provider_or_exit(settings)
        count = _rewrap(settings, provider, provider)
        typer.echo(f"re-wrapped {count} data key(s) under the latest version of {provider.key_id}")
        return
    if new_kek_file is None or not new_kek_file.is_file():
        die("--new-kek-file must name an existing file (write one like `bastion init` does)")
    old = _current_kek(settings)
    try:
        new = decode_kek(new_kek_file.read_text(), "--new-kek-file")
    except ValueError as exc:
        die(str(exc))
    if old == new:
        die("the new key-encryption key is the current one")
    count = _rewrap(settings, LocalKeyProvider(old), LocalKeyProvider(new))
    typer.echo(f"re-wrapped {count} data key(s) under {LocalKeyProvider(new).key_id}")
    typer.echo(
        f"now point BASTION_KEK_FILE at {new_kek_file} (or replace "
        f"{settings.default_kek_file}) before starting new workers; running workers "
        "keep serving"
    )


def _rotate_dek(settings: Settings, tenant: str, purpose: str, batch: int) -> None:
    if purpose not in (*_DEK_PURPOSES, "all"):
        die("--purpose must be app, audit or all")
    purposes = _DEK_PURPOSES if purpose == "all" else (purpose,)
    provider = provider_or_exit(settings)
    engine = open_admin_engine(settings)
    try:
        try:
            tenant_id = IdentityService(engine).tenant_id(tenant)
        except IdentityError as exc:
            die(str(exc))
        ring = Keyring(
            engine,
            provider,
            now,
            refresh_seconds=settings.data_key_refresh_seconds,
        )
        for name in purposes:
            if not ring.versions(tenant_id, name):
                typer.echo(f"{tenant}/{name}: no data key yet, nothing to rotate")
                continue
            try:
                report = rotate_data_key(
                    ring, engine, tenant_id, name, SEALED_COLUMNS, batch=batch, progress=typer.echo
                )
            except RotationError as exc:
                die(str(exc), code=1)
            except UnwrapError:
                die("the configured KEK does not open this tenant's data keys")
            except KeyProviderUnavailable as exc:
                die(f"{exc}; the rotation can be run again", code=1)
            except DecryptionError:
                die(
                    f"a sealed {name} field of {tenant} does not open (damaged or moved); "
                    "rotation stopped with the old key kept; run `bastion audit verify`",
                    code=1,
                )
            destroyed = ", ".join(f"v{v}" for v in report.destroyed) or "none"
            typer.echo(
                f"{tenant}/{name}: now v{report.new_version}; {report.reencrypted} field(s) "
                f"re-encrypted in {report.passes} pass(es); destroyed {destroyed}"
            )
    finally:
        engine.dispose()
