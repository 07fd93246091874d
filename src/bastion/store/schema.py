"""SQLAlchemy models. Changing them needs an Alembic revision in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiKey",
    "AssistantConversationRow",
    "AuditHead",
    "AuditRecord",
    "Base",
    "DataKey",
    "DataSourceRow",
    "DataSourceShareRow",
    "DocumentChunkRow",
    "DocumentRow",
    "PseudonymVaultRow",
    "SealedSecret",
    "SessionRow",
    "SsoIdentityRow",
    "SsoReplayRow",
    "SsoStateRow",
    "Tenant",
    "TenantPolicyRow",
    "User",
    "UtcDateTime",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    policy: Mapped[str] = mapped_column(String(128), default="default")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32), default="member")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A JSON object of the user's attributes (``{"region": "EU"}``) that row filters
    # bind as ``:name``; set by an admin or from the IdP's claims at sign-in.
    attributes: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApiKey(Base):
    """An API key: only the SHA-256 of the secret is stored; ``prefix`` finds it."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AuditRecord(Base):
    """One interaction. ``body`` is the canonical JSON the hash commits to."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="uq_audit_tenant_seq"),
        Index("ix_audit_tenant_ts", "tenant_id", "ts"),
        Index("ix_audit_request_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    request_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    # Prompt and response, sealed under the tenant's audit key (NULL: stored in body).
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The tip of a tenant's chain; appends lock this row to serialise writers."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class DataKey(Base):
    """A tenant's data key for one purpose, stored only wrapped by the KEK provider."""

    __tablename__ = "data_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "purpose", "version", name="uq_data_keys_version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    kek_id: Mapped[str] = mapped_column(String(128))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SealedSecret(Base):
    """A credential Bastion must use but never show (an upstream provider key, later
    data-source passwords), sealed under the tenant's ``app`` data key."""

    __tablename__ = "sealed_secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_sealed_secrets_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PseudonymVaultRow(Base):
    """One conversation's pseudonym map (placeholder <-> original value), sealed under
    the tenant's ``app`` data key. ``owner`` is a SHA-256 of the caller and the
    conversation id, so only the caller who sent the values can have them restored."""

    __tablename__ = "pseudonym_vaults"
    __table_args__ = (UniqueConstraint("tenant_id", "owner", name="uq_pseudonym_vaults_owner"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SessionRow(Base):
    """A browser session after single sign-on. The cookie carries ``id`` and a random
    secret; only the secret's SHA-256 is stored. ``authenticated_at`` is the sign-in
    that step-up checks; ``last_seen_at`` the idle clock; ``expires_at`` the absolute
    lifetime; ``revoked_at`` ends it for good (logout, an admin, a disabled user)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    authenticated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SsoStateRow(Base):
    """A sign-in in flight: what the callback must match (OIDC state, nonce and PKCE
    verifier; SAML request id). Used once, within minutes; ``id`` is the SHA-256 of
    the state value the browser carries."""

    __tablename__ = "sso_states"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(128), default="")
    code_verifier: Mapped[str] = mapped_column(String(128), default="")
    request_id: Mapped[str] = mapped_column(String(128), default="")
    # A step-up sign-in refreshes this session instead of making a new one.
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    return_to: Mapped[str] = mapped_column(String(512), default="/")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SsoReplayRow(Base):
    """A SAML assertion id already accepted, kept until the assertion expires."""

    __tablename__ = "sso_replay"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SsoIdentityRow(Base):
    """Which user an identity provider's subject signs in as. Users are matched on
    ``(idp, subject)``, which the IdP never reassigns, not on an email address."""

    __tablename__ = "sso_identities"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idp: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TenantPolicyRow(Base):
    """A tenant's own policy, written through the admin API: every version kept (the
    tenant runs under ``@<tenant id>:<version>``), so a change is one new row and the
    history of what applied when stays."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(36))


class DataSourceRow(Base):
    """A database a user connected for querying (issue 7). The connection URL, with its
    password, is sealed under the tenant's ``app`` data key bound to ``id``; ``config``
    is the JSON guard configuration (tables, columns, masks, row filters)."""

    __tablename__ = "data_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_data_sources_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    owner_user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    sealed_url: Mapped[bytes] = mapped_column(LargeBinary)
    config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class DataSourceShareRow(Base):
    """One explicit share of a data source, to a user (by id) or to a role."""

    __tablename__ = "data_source_shares"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[str] = mapped_column(
        ForeignKey("data_sources.id", ondelete="CASCADE"), primary_key=True
    )
    grantee_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    grantee: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DocumentRow(Base):
    """A document uploaded into a collection (a data source of kind ``documents``).

    ``status`` is ``active`` (retrievable) or ``quarantined`` (flagged at ingestion:
    kept for review, never retrieved); ``reasons`` is the JSON list of the scanners'
    reasons, never content. The text itself lives only in the sealed chunks."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    source_id: Mapped[str] = mapped_column(
        ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    uploaded_by: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    chars: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DocumentChunkRow(Base):
    """One chunk of a document: its text and, when an embedder ran, its vector, sealed
    together under the tenant's ``app`` data key bound to ``id``. ``source_id`` is the
    collection, so retrieval filters by the caller's permissions in SQL before ranking.
    ``embedder`` names the model that made the vector ("" when none did)."""

    __tablename__ = "document_chunks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(String(36), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    embedder: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class AssistantConversationRow(Base):
    """One user's assistant conversation: its messages, sealed under the tenant's
    ``app`` data key bound to ``id``. Only ``user_id`` can read it."""

    __tablename__ = "assistant_conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    turns: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgentActionRow(Base):
    """An action the model proposed (issue 8) and what became of it. ``sealed`` holds the
    canonical arguments and the summary, ``sealed_detail`` the result's detail, both
    under the tenant's ``app`` data key bound to ``id``. ``action_hash`` binds a
    confirmation or approval to tool, exact arguments, requester and conversation."""

    __tablename__ = "agent_actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    requester_id: Mapped[str] = mapped_column(String(36), index=True)
    conversation_id: Mapped[str] = mapped_column(String(80))
    tool: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int] = mapped_column(Integer)
    action_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_detail: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    result_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result_message: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class StreamCursorRow(Base):
    """How far one consumer of the audit stream (issue 9: a detector run, a SIEM sink)
    has got in one tenant's chain: every record up to ``seq`` is done with."""

    __tablename__ = "stream_cursors"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StreamLeaseRow(Base):
    """Which gateway process runs a stream consumer now: one at a time per ``stream``,
    until ``expires_at`` unless the holder renews it."""

    __tablename__ = "stream_leases"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IncidentRow(Base):
    """An incident (issue 9): one run of a response playbook on one subject. ``status``
    is ``open`` → ``contained`` (every containment step done) → ``closed``; the subject
    columns are identifiers only. ``alert_key`` (an alert's stable key) makes an
    automatic run idempotent: one incident per tenant, playbook and alert."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "playbook", "alert_key", name="uq_incidents_alert"),
        Index("ix_incidents_tenant_opened", "tenant_id", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    playbook: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    alert_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IncidentStepRow(Base):
    """One step of an incident's timeline, in order (``seq`` 1, 2, ...). ``detail`` is
    JSON of identifiers and counts only; ``sealed`` holds evidence that is content (a
    conversation snapshot), sealed under the tenant's ``app`` data key bound to ``id``.
    Steps are only ever appended."""

    __tablename__ = "incident_steps"
    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_steps_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())


class IsolationRow(Base):
    """A session, conversation or API key whose requests are refused until released.
    At most one active (unreleased) isolation per tenant, kind and ref: the partial
    unique index is also what the request path's check reads."""

    __tablename__ = "isolations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(80))
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


Index(
    "uq_isolations_active",
    IsolationRow.tenant_id,
    IsolationRow.ref,
    IsolationRow.kind,
    unique=True,
    sqlite_where=IsolationRow.released_at.is_(None),
    postgresql_where=IsolationRow.released_at.is_(None),
)


# Tables defined in their own modules, on this Base (imported last: they need it).
from bastion.store import schema_feedback, schema_governance  # noqa: E402, F401
