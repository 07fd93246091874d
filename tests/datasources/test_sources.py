"""Data sources: owned, shared only explicitly, URL sealed, config narrowed per caller."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.datasources.guard import check
from bastion.datasources.sources import (
    DataSources,
    SourceError,
    SourceForbidden,
    SourceNotFound,
    guard_policy_for,
)
from bastion.store.schema import DataSourceRow, Tenant, User

KEK = bytes(range(3, 35))
PASSWORD = "Pw-MARKER-7f3a9c"
PG_URL = f"postgresql+psycopg://reader:{PASSWORD}@db.internal:5432/sales"
CONFIG: dict[str, Any] = {
    "row_cap": 50,
    "tables": {
        "orders": {
            "columns": ["id", "region", "amount", "customer_email"],
            "masked": ["customer_email"],
            "roles": {"member": {"row_filter": "region = :region"}},
        }
    },
}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class World:
    store: DataSources
    tenant: str
    other_tenant: str
    owner: str
    member: str
    viewer: str
    stranger: str
    sqlite_dir: Path
    keyring: Keyring
    app_engine: Engine


@pytest.fixture
def world(engine: Engine, app_engine: Engine, tmp_path: Path) -> World:
    """Two tenants; in the first an owner and a fellow member and a viewer."""
    tenant, other_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {name: str(uuid.uuid4()) for name in ("owner", "member", "viewer", "stranger")}
    roles = {"owner": "member", "member": "member", "viewer": "viewer", "stranger": "member"}
    with engine.begin() as conn:
        for tid, name in ((tenant, "acme"), (other_tenant, "globex")):
            conn.execute(insert(Tenant).values(id=tid, name=name, created_at=now()))
        for name, uid in ids.items():
            conn.execute(
                insert(User).values(
                    id=uid,
                    tenant_id=other_tenant if name == "stranger" else tenant,
                    email=f"{name}@example.com",
                    role=roles[name],
                    created_at=now(),
                )
            )
    sqlite_dir = tmp_path / "sources"
    sqlite_dir.mkdir()
    keyring = Keyring(app_engine, LocalKeyProvider(KEK), now)
    store = DataSources(app_engine, keyring, now, sqlite_dir=sqlite_dir)
    return World(
        store,
        tenant,
        other_tenant,
        sqlite_dir=sqlite_dir,
        keyring=keyring,
        app_engine=app_engine,
        **ids,
    )


def test_only_the_owner_sees_a_new_source(world: World) -> None:
    """Another user of the tenant and any user of another tenant get the same not-found."""
    info = world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    assert [s.id for s in world.store.visible(world.tenant, world.owner, "member")] == [info.id]
    source = world.store.get_for(world.tenant, info.id, world.owner, "member")
    assert source.url.reveal() == PG_URL and source.kind == "postgres"
    assert world.store.visible(world.tenant, world.member, "member") == []
    assert world.store.visible(world.other_tenant, world.stranger, "member") == []
    attempts = [
        (world.tenant, info.id, world.member),
        (world.other_tenant, info.id, world.stranger),
        (world.tenant, str(uuid.uuid4()), world.owner),
    ]
    messages = set()
    for tenant, source_id, user in attempts:
        with pytest.raises(SourceNotFound) as caught:
            world.store.get_for(tenant, source_id, user, "owner")
        messages.add(str(caught.value))
    assert messages == {"no such data source"}


def test_sharing_to_a_role_and_to_a_user(world: World) -> None:
    """A share to `member` reaches members, not viewers; only the owner shares or deletes."""
    info = world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    assert world.store.share(world.tenant, info.id, world.owner, "role", "member") is True
    assert world.store.share(world.tenant, info.id, world.owner, "role", "member") is False
    assert [s.id for s in world.store.visible(world.tenant, world.member, "member")] == [info.id]
    world.store.get_for(world.tenant, info.id, world.member, "member")
    assert world.store.visible(world.tenant, world.viewer, "viewer") == []
    with pytest.raises(SourceNotFound):
        world.store.get_for(world.tenant, info.id, world.viewer, "viewer")
    with pytest.raises(SourceNotFound):  # the role share is not in another tenant
        world.store.get_for(world.other_tenant, info.id, world.stranger, "member")
    with pytest.raises(SourceNotFound):  # the stranger cannot probe it either
        world.store.share(world.other_tenant, info.id, world.stranger, "role", "member")
    world.store.share(world.tenant, info.id, world.owner, "user", world.viewer)
    world.store.get_for(world.tenant, info.id, world.viewer, "viewer")
    for attempt in (
        lambda: world.store.share(world.tenant, info.id, world.viewer, "role", "viewer"),
        lambda: world.store.unshare(world.tenant, info.id, world.viewer, "user", world.viewer),
        lambda: world.store.delete(world.tenant, info.id, world.viewer),
    ):
        with pytest.raises(SourceForbidden):
            attempt()
    with pytest.raises(SourceNotFound):  # sees it through the role share only
        world.store.delete(world.tenant, info.id, world.member)
    assert world.store.unshare(world.tenant, info.id, world.owner, "role", "member") is True
    assert world.store.visible(world.tenant, world.member, "member") == []
    world.store.delete(world.tenant, info.id, world.owner)
    with pytest.raises(SourceNotFound):
        world.store.get_for(world.tenant, info.id, world.viewer, "viewer")
    assert world.store.visible(world.tenant, world.owner, "member") == []


@pytest.mark.parametrize(
    ("kind", "grantee", "message"),
    [("group", "member", "grantee_kind"), ("role", "root", "unknown role"), ("user", "x", "user")],
)
def test_bad_shares_are_refused(world: World, kind: str, grantee: str, message: str) -> None:
    """Shares name a known role or a user of the tenant."""
    info = world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    with pytest.raises(SourceError, match=message):
        world.store.share(world.tenant, info.id, world.owner, kind, grantee)


def test_url_is_sealed_at_rest_and_never_shown(world: World, engine: Engine) -> None:
    """The stored row holds no password; no listing, repr or error shows the URL."""
    info = world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    with engine.connect() as conn:
        row = conn.execute(select(DataSourceRow.__table__)).one()
    assert PASSWORD.encode() not in row.sealed_url and PASSWORD not in repr(tuple(row))
    source = world.store.get_for(world.tenant, info.id, world.owner, "member")
    shown = repr(info) + repr(source) + str(source) + repr(source.url) + repr(world.store)
    shown += repr(world.store.visible(world.tenant, world.owner, "member"))
    assert PASSWORD not in shown
    with pytest.raises(SourceError) as caught:
        world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    assert "exists already" in str(caught.value) and PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        ("postgres", f"postgresql://u:{PASSWORD}@h/db", "postgresql+psycopg"),
        ("postgres", f"mysql+pymysql://u:{PASSWORD}@h/db", "postgresql+psycopg"),
        ("mysql", f"mysql+mysqldb://u:{PASSWORD}@h/db", "mysql+pymysql"),
        ("mysql", f"mysql+pymysql://u:{PASSWORD}@h/db?local_infile=1", "local_infile"),
        ("mysql", f"mysql+pymysql://u:{PASSWORD}@h/db?read_default_file=/x", "read_default"),
        ("postgres", f"postgresql+psycopg://u:{PASSWORD}@/db", "host"),
        ("postgres", f"not a url {PASSWORD}", "does not parse"),
        ("oracle", f"oracle://u:{PASSWORD}@h/db", "unknown data source kind"),
    ],
)
def test_bad_urls_are_refused_without_echoing_them(
    world: World, kind: str, url: str, message: str
) -> None:
    """The scheme matches the kind, options are allow-listed, errors hold no URL."""
    with pytest.raises(SourceError, match=re.escape(message)) as caught:
        world.store.connect(world.tenant, world.owner, "src", kind, url, CONFIG)
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)
    assert caught.value.__cause__ is None


def test_sqlite_sources_stay_inside_their_directory(world: World, tmp_path: Path) -> None:
    """Paths outside sqlite_dir (the gateway's own database, traversal, symlinks) are refused."""
    inside = world.sqlite_dir / "shop.db"
    info = world.store.connect(
        world.tenant, world.owner, "shop", "sqlite", f"sqlite:///{inside}", CONFIG
    )
    assert world.store.get_for(world.tenant, info.id, world.owner, "member").kind == "sqlite"
    (world.sqlite_dir / "escape.db").symlink_to(tmp_path / "bastion.db")
    for url in (
        f"sqlite:///{tmp_path / 'bastion.db'}",
        f"sqlite:///{world.sqlite_dir}/../bastion.db",
        f"sqlite:///{world.sqlite_dir / 'escape.db'}",
        f"sqlite:///{world.sqlite_dir}",
        "sqlite:///shop.db",
        "sqlite://",
        f"sqlite:///{inside}?mode=rwc",
    ):
        with pytest.raises(SourceError):
            world.store.connect(world.tenant, world.owner, "bad", "sqlite", url, CONFIG)
    closed = DataSources(world.app_engine, world.keyring, now)
    with pytest.raises(SourceError, match="not enabled"):
        closed.connect(world.tenant, world.owner, "x", "sqlite", f"sqlite:///{inside}", CONFIG)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"tables": {"orders": {"roles": {"wizard": {}}}}}, "unknown role"),
        ({"tables": {"orders": {"row_filter": "region = (SELECT 1 FROM t)"}}}, "other tables"),
        ({"tables": {"orders": {"columns": ["id"], "masked": ["email"]}}}, "masked"),
        ({"tables": {"orders": {"masked": ["email"]}}}, "explicit column list"),
        ({"tables": {"orders": {"colums": ["id"]}}}, "colums"),
        ({"row_cap": 0, "tables": {}}, "row_cap"),
        (
            {"tables": {"orders": {"columns": ["id"], "users": {"u": {"columns": ["x"]}}}}},
            "columns may not be empty",
        ),
    ],
)
def test_bad_configs_are_refused(world: World, config: dict[str, Any], message: str) -> None:
    """A config is checked for every role and user it names when it is stored."""
    with pytest.raises(SourceError, match=message):
        world.store.connect(world.tenant, world.owner, "src", "postgres", PG_URL, config)


def test_policy_narrows_per_role_and_user(world: World) -> None:
    """Members get their region only; a user entry narrows further; deny hides a table."""
    config = {
        "row_cap": 50,
        "tables": {
            "orders": {**CONFIG["tables"]["orders"], "users": {world.viewer: {"deny": True}}},
            "regions": {"users": {world.member: {"columns": ["name"]}}},
        },
    }
    info = world.store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, config)
    source = world.store.get_for(world.tenant, info.id, world.owner, "member")
    sql = "SELECT * FROM orders"
    member = check(sql, guard_policy_for(source, world.owner, "member", {"region": "north"}))
    assert member.allowed and "'north'" in member.sql and "'***'" in member.sql
    admin = check(sql, guard_policy_for(source, world.owner, "admin", {}))
    assert admin.allowed and "north" not in admin.sql and "LIMIT 51" in admin.sql
    viewer = check(sql, guard_policy_for(source, world.viewer, "viewer", {}))
    assert viewer.reason == "unknown_table"
    narrowed = guard_policy_for(source, world.member, "member", {"region": "south"})
    assert check("SELECT population FROM regions", narrowed).reason == "column_not_allowed"
    with pytest.raises(ValueError, match="region"):  # the caller's attribute is missing
        guard_policy_for(source, world.owner, "member", {})
