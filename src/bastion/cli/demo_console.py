"""The demo's console sign-in: the demo tenant has no identity provider, so the demo
turns the break-glass sign-in on and gives a demo owner a fresh random password (shown
in the demo's output; a demo on loopback only)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

__all__ = ["demo_console_admin"]


def demo_console_admin(engine: Engine, data_dir: Path, clock: Callable[[], datetime]) -> str:
    """Make ``admin@demo.test`` an owner of the demo tenant with a new break-glass
    password; the password."""
    from bastion.console.break_glass import BreakGlass
    from bastion.crypto import Keyring, LocalKeyProvider
    from bastion.identity import IdentityService
    from bastion.identity.directory import Directory
    from bastion.secrets import SecretStore

    tenant_id = IdentityService(engine).tenant_id("demo")
    directory = Directory(engine)
    if not any(u.email == "admin@demo.test" for u in directory.users(tenant_id)):
        directory.add_user(tenant_id, "admin@demo.test", "owner", clock())
    kek = base64.b64decode((data_dir / "kek").read_text())
    store = SecretStore(engine, Keyring(engine, LocalKeyProvider(kek), clock), clock)
    password = secrets.token_urlsafe(15)  # 20 characters
    BreakGlass(store).set(tenant_id, "admin@demo.test", password)
    return password
