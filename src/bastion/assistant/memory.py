"""The assistant's conversation memory: one user's turns, sealed, readable by that user only.

A conversation is one row of ``assistant_conversations``: the user's messages and the
assistant's answers (never the tool results: the data they held was read under the
caller's permissions at the time, and is read again if asked again), sealed with the
tenant's ``app`` data key bound to the row id, so a blob copied to another row or
tenant does not open. Every read and write names the user: another user of the same
tenant asking for the same id gets :class:`ConversationNotFound`, the same answer as
for an id that does not exist, so ids cannot be probed. At most ``max_turns`` turns
are kept (the oldest go first) and at most ``max_chars`` characters of each.

Nothing here logs, and no error or repr carries a message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, delete, insert, select, update

from bastion.crypto import DecryptionError, Keyring
from bastion.store.schema import AssistantConversationRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["ConversationError", "ConversationNotFound", "Conversations", "Turn"]

_TABLE = "assistant_conversations"
_FORMAT = 1


class ConversationError(Exception):
    """A conversation could not be read or written; the message never holds content."""


class ConversationNotFound(ConversationError):
    """No such conversation for this user (or it is another user's)."""


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str

    def __repr__(self) -> str:
        return f"Turn(role={self.role!r}, chars={len(self.content)})"


class Conversations:
    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Callable[[], datetime],
        *,
        max_turns: int = 40,
        max_chars: int = 20_000,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._max_turns = max_turns
        self._max_chars = max_chars

    def __repr__(self) -> str:
        return "Conversations()"

    def load(self, tenant_id: str, user_id: str, conversation_id: str) -> list[Turn]:
        """The user's turns so far; ConversationNotFound if not theirs or absent."""
        if not _is_uuid(conversation_id):
            raise ConversationNotFound()
        query = select(AssistantConversationRow.sealed).where(
            AssistantConversationRow.tenant_id == tenant_id,
            AssistantConversationRow.id == conversation_id,
            AssistantConversationRow.user_id == user_id,
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            sealed = conn.execute(query).scalar()
        if sealed is None:
            raise ConversationNotFound()
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, conversation_id, sealed)
        except DecryptionError:
            raise ConversationError("the conversation does not open") from None
        return _parse(raw)

    def append(
        self,
        tenant_id: str,
        user_id: str,
        conversation_id: str | None,
        turns: list[Turn],
        *,
        new_id: str | None = None,
    ) -> str:
        """Add ``turns`` to the user's conversation (a new one when ``conversation_id``
        is None, with ``new_id`` if given); returns its id. The write names the user,
        like every read."""
        now = self._clock()
        if conversation_id is None:
            row_id = new_id if new_id is not None and _is_uuid(new_id) else str(uuid.uuid4())
            kept = self._trim(turns)
            with tenant_begin(self._engine, tenant_id) as conn:
                conn.execute(
                    insert(AssistantConversationRow).values(
                        id=row_id,
                        tenant_id=tenant_id,
                        user_id=user_id,
                        sealed=self._seal(tenant_id, row_id, kept),
                        turns=len(kept),
                        created_at=now,
                        updated_at=now,
                    )
                )
            return row_id
        kept = self._trim([*self.load(tenant_id, user_id, conversation_id), *turns])
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                update(AssistantConversationRow)
                .where(
                    AssistantConversationRow.tenant_id == tenant_id,
                    AssistantConversationRow.id == conversation_id,
                    AssistantConversationRow.user_id == user_id,
                )
                .values(
                    sealed=self._seal(tenant_id, conversation_id, kept),
                    turns=len(kept),
                    updated_at=now,
                )
            ).rowcount
        if not done:
            raise ConversationNotFound()
        return conversation_id

    def forget(self, tenant_id: str, user_id: str, conversation_id: str) -> None:
        """Delete the user's conversation; ConversationNotFound if not theirs."""
        if not _is_uuid(conversation_id):
            raise ConversationNotFound()
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(
                delete(AssistantConversationRow).where(
                    AssistantConversationRow.tenant_id == tenant_id,
                    AssistantConversationRow.id == conversation_id,
                    AssistantConversationRow.user_id == user_id,
                )
            ).rowcount
        if not done:
            raise ConversationNotFound()

    def _trim(self, turns: list[Turn]) -> list[Turn]:
        kept = turns[-self._max_turns :]
        return [Turn(t.role, t.content[: self._max_chars]) for t in kept]

    def _seal(self, tenant_id: str, row_id: str, turns: list[Turn]) -> bytes:
        payload = {"format": _FORMAT, "turns": [[t.role, t.content] for t in turns]}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return self._keyring.encrypt(tenant_id, "app", _TABLE, row_id, raw)


def _parse(raw: bytes) -> list[Turn]:
    try:
        payload = json.loads(raw)
        if payload.get("format") != _FORMAT:
            raise ValueError
        turns: list[Turn] = []
        for role, content in payload["turns"]:
            if role not in ("user", "assistant") or not isinstance(content, str):
                raise ValueError
            turns.append(Turn(role, content))
    except (ValueError, TypeError, KeyError):
        raise ConversationError("the conversation is not in a known format") from None
    return turns


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
