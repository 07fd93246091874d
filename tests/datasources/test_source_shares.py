"""DataSources.shares and unshare: only the owner sees or withdraws a source's shares;
withdrawing one that is not there says so (False), and a bad kind is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bastion.datasources.sources import (
    DataSources,
    ShareInfo,
    SourceError,
    SourceForbidden,
    SourceNotFound,
)
from tests.datasources.test_sources import CONFIG, PG_URL, World, world

__all__ = ["world"]  # the fixture: two tenants, an owner, a member, a viewer

SHARED_AT = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)


def at_fixed_time(w: World) -> DataSources:
    """The world's store with a clock that always reads ``SHARED_AT``."""
    return DataSources(w.app_engine, w.keyring, lambda: SHARED_AT, sqlite_dir=w.sqlite_dir)


def test_the_owner_lists_shares_by_kind_then_grantee(world: World) -> None:
    """Each share once, with when it was made; a role by its canonical name."""
    store = at_fixed_time(world)
    info = store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    assert store.shares(world.tenant, info.id, world.owner) == []
    store.share(world.tenant, info.id, world.owner, "user", world.viewer)
    store.share(world.tenant, info.id, world.owner, "role", "member")
    store.share(world.tenant, info.id, world.owner, "role", "member")  # not twice
    assert store.shares(world.tenant, info.id, world.owner) == [
        ShareInfo("role", "member", SHARED_AT),
        ShareInfo("user", world.viewer, SHARED_AT),
    ]


def test_only_the_owner_may_list_shares(world: World) -> None:
    """A user shared with by id: forbidden; by role, another tenant, no such id: not found."""
    store = world.store
    info = store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    store.share(world.tenant, info.id, world.owner, "user", world.viewer)
    store.share(world.tenant, info.id, world.owner, "role", "member")
    with pytest.raises(SourceForbidden):
        store.shares(world.tenant, info.id, world.viewer)
    for tenant, source_id, user in (
        (world.tenant, info.id, world.member),  # sees it through the role share only
        (world.other_tenant, info.id, world.stranger),
        (world.tenant, "0" * 36, world.owner),
    ):
        with pytest.raises(SourceNotFound):
            store.shares(tenant, source_id, user)
    store.delete(world.tenant, info.id, world.owner)
    with pytest.raises(SourceNotFound):
        store.shares(world.tenant, info.id, world.owner)


def test_unshare_says_whether_there_was_a_share(world: World) -> None:
    """True once, then False; an unknown kind is an error, never a silent no-op."""
    store = world.store
    info = store.connect(world.tenant, world.owner, "sales", "postgres", PG_URL, CONFIG)
    store.share(world.tenant, info.id, world.owner, "user", world.member)
    assert store.unshare(world.tenant, info.id, world.owner, "user", world.member) is True
    assert store.unshare(world.tenant, info.id, world.owner, "user", world.member) is False
    assert store.unshare(world.tenant, info.id, world.owner, "role", "member") is False
    with pytest.raises(SourceError, match="grantee_kind"):
        store.unshare(world.tenant, info.id, world.owner, "group", world.member)
    assert store.shares(world.tenant, info.id, world.owner) == []
