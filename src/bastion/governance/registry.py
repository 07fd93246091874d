"""The model registry: every model alias's versions, kept, and the one it serves now.

A version is the model's configuration without secrets (the *names* of its key
variable or sealed secret, never a key; extra headers stay in the configuration): the
provider, the exact upstream model id, the endpoint and the region. Versions are never
changed or deleted; an alias points at one of them, so a rollback is one row update.

Where versions come from:

* the configured models (``BASTION_MODELS`` or ``[[models]]``), applied once per
  change: a configuration the registry has not seen from ``config`` becomes the
  alias's new version, and an unchanged one changes nothing (so a rollback survives a
  restart with the same configuration);
* ``bastion models register`` (source ``cli``).

Every change is recorded in the deployment's audit chain (tenant ``deployment``,
route ``governance``) before it is made; a change that then fails is recorded too.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.audit import AuditEvent
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig
from bastion.store.schema_governance import ModelAliasRow, ModelVersionRow
from bastion.store.transactions import read_snapshot, write_transaction

__all__ = [
    "GOVERNANCE_ROUTE",
    "ModelRegistry",
    "ModelVersion",
    "RegistryError",
    "is_pinned",
]

GOVERNANCE_ROUTE = "governance"
"""The ``route`` of the audit records the registry (and other governance) writes."""

# An exact model version: a date (2024-08-06, 20241022), a four-digit snapshot suffix
# (-0613), a semantic version (v1.2, 3.1.4) or a content digest (@sha256:...).
_PINNED = re.compile(
    r"(?:19|20)\d{2}-?[01]\d-?[0-3]\d|-\d{4}\b|(?:^|[-:@v])\d+\.\d+(?:\.\d+)?\b|"
    r"@sha256:[0-9a-f]{64}|:[0-9a-f]{12,64}$",
    re.IGNORECASE,
)
_RETRIES = 3

Recorder = Callable[[AuditEvent], None]


def is_pinned(upstream_model: str) -> bool:
    """Whether ``upstream_model`` names one exact version (``gpt-4o-2024-08-06``,
    ``claude-3-5-sonnet-20241022``, ``llama3.1:8b@sha256:...``), not a moving alias
    (``gpt-4o``, ``latest``)."""
    return bool(_PINNED.search(upstream_model)) and not upstream_model.endswith(":latest")


class RegistryError(Exception):
    """A registry change that cannot be made; the message names the alias, never a key."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    alias: str
    version: int
    provider: str
    upstream_model: str
    base_url: str
    region: str
    fingerprint: str
    source: str
    created_at: datetime
    created_by: str
    note: str
    spec: dict[str, Any]

    @property
    def pinned(self) -> bool:
        return is_pinned(self.upstream_model)

    def config(self, headers: dict[str, str] | None = None) -> ModelConfig:
        """The model configuration this version serves (``headers`` from the settings)."""
        return ModelConfig.model_validate({**self.spec, "headers": headers or {}})


def spec_of(config: ModelConfig) -> dict[str, Any]:
    """The configuration a version keeps: everything but extra headers (they may carry
    credentials) and settings left at their defaults (so a Bastion release that adds a
    model setting does not make every model a new version), with the model's name as
    its alias."""
    spec: dict[str, Any] = config.model_dump(
        mode="json", exclude={"headers"}, exclude_defaults=True
    )
    return spec


def fingerprint(spec: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ModelRegistry:
    """Reads and changes the registry. ``record`` appends an audit event and returns when
    it is committed (``bastion.governance.audit.recorder``); ``None`` only in read-only
    use (the gateway's watcher)."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], record: Recorder | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._record = record

    def __repr__(self) -> str:
        return f"ModelRegistry(backend={self._engine.dialect.name!r})"

    # -- reading --------------------------------------------------------------------
    def current(self) -> list[ModelVersion]:
        """The version each alias serves now, by alias."""
        query = (
            select(ModelVersionRow)
            .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
            .order_by(ModelVersionRow.alias)
        )
        with read_snapshot(self._engine, DEPLOYMENT) as conn:
            return [_version(row) for row in conn.execute(query).all()]

    def history(self, alias: str) -> list[ModelVersion]:
        """Every version of ``alias``, oldest first."""
        query = (
            select(ModelVersionRow)
            .where(ModelVersionRow.alias == alias)
            .order_by(ModelVersionRow.version)
        )
        with read_snapshot(self._engine, DEPLOYMENT) as conn:
            return [_version(row) for row in conn.execute(query).all()]

    def stamp(self) -> tuple[int, datetime | None]:
        """Changes whenever an alias does: how many there are and the latest update."""
        query = select(func.count(), func.max(ModelAliasRow.updated_at))
        with read_snapshot(self._engine, DEPLOYMENT) as conn:
            count, latest = conn.execute(query).one()
        return int(count), latest

    def served(self, configured: Sequence[ModelConfig]) -> list[ModelConfig]:
        """What the gateway serves: each alias's current version (extra headers from the
        configured model of that name), with configured models the registry lacks. An
        alias only the configuration ever registered is served while the configuration
        names it; one registered with ``bastion models register`` always is."""
        headers = {m.name: m.headers for m in configured}
        registered = select(ModelVersionRow.alias).where(ModelVersionRow.source == "cli")
        with read_snapshot(self._engine, DEPLOYMENT) as conn:
            by_cli = set(conn.execute(registered.distinct()).scalars())
        current = {
            v.alias: v.config(headers.get(v.alias))
            for v in self.current()
            if v.alias in headers or v.alias in by_cli
        }
        return [*current.values(), *(m for m in configured if m.name not in current)]

    # -- changing -------------------------------------------------------------------
    def register(
        self, config: ModelConfig, *, actor: str, source: str = "cli", note: str = ""
    ) -> ModelVersion:
        """Store ``config`` as its alias's next version and serve it."""
        spec = spec_of(config)
        for attempt in range(_RETRIES):
            now = self._clock()
            latest = self.history(config.name)
            version = latest[-1].version + 1 if latest else 1
            previous = self._serving(config.name)
            self._audit(
                "model_registered",
                actor,
                config.name,
                now,
                version=version,
                previous=previous,
                upstream_model=config.target_model,
                region=config.region,
                fingerprint=fingerprint(spec),
                source=source,
            )
            try:
                with write_transaction(self._engine) as conn:
                    inserted = conn.execute(
                        insert(ModelVersionRow).values(
                            alias=config.name,
                            version=version,
                            provider=config.provider,
                            upstream_model=config.target_model,
                            base_url=config.base_url,
                            region=config.region,
                            spec=orjson.dumps(spec, option=orjson.OPT_SORT_KEYS).decode(),
                            fingerprint=fingerprint(spec),
                            source=source,
                            created_at=now,
                            created_by=actor,
                            note=note[:500],
                        )
                    ).inserted_primary_key
                    assert inserted is not None
                    _point(conn, config.name, int(inserted[0]), now, actor, new=previous is None)
            except IntegrityError:
                self._failed("model_registered", actor, config.name, "concurrent_change")
                if attempt == _RETRIES - 1:
                    raise RegistryError(
                        f"model {config.name}: changed by someone else at the same time; retry"
                    ) from None
                continue
            return self.history(config.name)[-1]
        raise AssertionError("unreachable")

    def sync_config(self, models: Sequence[ModelConfig], *, actor: str = "config") -> int:
        """Register each configured model the registry has not seen from ``config`` in
        this form; how many were registered."""
        changed = 0
        for model in models:
            spec = spec_of(model)
            seen = [v for v in self.history(model.name) if v.source == "config"]
            if seen and seen[-1].fingerprint == fingerprint(spec):
                continue
            for _ in range(_RETRIES):
                try:
                    self.register(model, actor=actor, source="config")
                    changed += 1
                    break
                except RegistryError:
                    seen = [v for v in self.history(model.name) if v.source == "config"]
                    if seen and seen[-1].fingerprint == fingerprint(spec):
                        break  # another replica registered the same change
        return changed

    def rollback(self, alias: str, *, actor: str) -> tuple[int, int]:
        """Serve the version before the current one; (from, to)."""
        serving = self._serving(alias)
        if serving is None:
            raise RegistryError(f"no model {alias!r} in the registry")
        earlier = [v.version for v in self.history(alias) if v.version < serving]
        if not earlier:
            raise RegistryError(f"model {alias}: version {serving} is its first; nothing earlier")
        return self._switch(alias, serving, earlier[-1], actor, "model_rollback")

    def use(self, alias: str, version: int, *, actor: str) -> tuple[int, int]:
        """Serve ``version`` of ``alias`` (any registered one); (from, to)."""
        serving = self._serving(alias)
        if serving is None:
            raise RegistryError(f"no model {alias!r} in the registry")
        if version not in {v.version for v in self.history(alias)}:
            raise RegistryError(f"model {alias} has no version {version}")
        return self._switch(alias, serving, version, actor, "model_version_set")

    # -- internals ------------------------------------------------------------------
    def _serving(self, alias: str) -> int | None:
        query = (
            select(ModelVersionRow.version)
            .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
            .where(ModelAliasRow.alias == alias)
        )
        with read_snapshot(self._engine, DEPLOYMENT) as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def _switch(self, alias: str, old: int, new: int, actor: str, what: str) -> tuple[int, int]:
        now = self._clock()
        self._audit(what, actor, alias, now, version=new, previous=old)
        with write_transaction(self._engine) as conn:
            target = conn.execute(
                select(ModelVersionRow.id).where(
                    ModelVersionRow.alias == alias, ModelVersionRow.version == new
                )
            ).scalar_one()
            current = conn.execute(
                select(ModelVersionRow.version)
                .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
                .where(ModelAliasRow.alias == alias)
            ).scalar()
            if current == old:  # compare and set: nobody changed it since we looked
                _point(conn, alias, int(target), now, actor, new=False)
                return old, new
        self._failed(what, actor, alias, "concurrent_change")
        raise RegistryError(f"model {alias}: changed by someone else at the same time; retry")

    def _audit(self, outcome: str, actor: str, alias: str, now: datetime, **extra: Any) -> None:
        if self._record is None:
            raise RegistryError("this registry is read-only (no audit recorder)")
        self._record(
            AuditEvent(
                ts=now,
                request_id=uuid.uuid4().hex,
                tenant_id=DEPLOYMENT,
                user_id=actor,
                key_id="",
                model=alias,
                route=GOVERNANCE_ROUTE,
                outcome=outcome,
                extra={"alias": alias, **extra},
            )
        )

    def _failed(self, outcome: str, actor: str, alias: str, reason: str) -> None:
        self._audit(f"{outcome}_failed", actor, alias, self._clock(), reason=reason)


def _point(
    conn: Connection, alias: str, version_id: int, now: datetime, actor: str, *, new: bool
) -> None:
    values = {"version_id": version_id, "updated_at": now, "updated_by": actor}
    if new:
        conn.execute(insert(ModelAliasRow).values(alias=alias, **values))
    else:
        conn.execute(update(ModelAliasRow).where(ModelAliasRow.alias == alias).values(**values))


def _version(r: Any) -> ModelVersion:
    return ModelVersion(
        alias=r.alias,
        version=r.version,
        provider=r.provider,
        upstream_model=r.upstream_model,
        base_url=r.base_url,
        region=r.region,
        fingerprint=r.fingerprint,
        source=r.source,
        created_at=r.created_at,
        created_by=r.created_by,
        note=r.note,
        spec=orjson.loads(r.spec),
    )
