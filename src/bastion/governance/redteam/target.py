"""The HTTP side: one aiohttp session to the gateway under test, bounded concurrency.

:class:`Target` sends requests with one API key and returns :class:`Reply` (status,
OpenAI-style error ``code``, parsed JSON). Network failures become a ``Reply`` with
status ``None``; only :meth:`Target.preflight` raises :class:`TargetError`, whose
message is one line fit for the terminal and never contains the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp

__all__ = ["Reply", "Target", "TargetError"]


class TargetError(Exception):
    """The target cannot be red-teamed: unreachable, or the key is refused."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int | None  # None: no HTTP answer (connection failure, timeout)
    body: Any = field(default=None, repr=False)
    failure: str = ""  # the exception type when status is None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        """The error's ``code`` (OpenAI shape), or its ``type`` (Anthropic shape)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            err = self.body["error"]
            value = err.get("code") or err.get("type")
            return str(value) if value else None
        return None

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return ""

    def answer(self) -> str:
        """The assistant text of a chat completion or an assistant answer."""
        body = self.body
        if not isinstance(body, dict):
            return ""
        if isinstance(body.get("answer"), str):
            return str(body["answer"])
        texts: list[str] = []
        for choice in body.get("choices") or ():
            message = choice.get("message") or {} if isinstance(choice, dict) else {}
            if isinstance(message.get("content"), str):
                texts.append(message["content"])
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict):
                    texts.append(str((call.get("function") or {}).get("arguments", "")))
        return "\n".join(texts)


class Target:
    """A Bastion deployment seen through one API key."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        concurrency: int = 4,
        timeout: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._limit = asyncio.Semaphore(concurrency)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owned = session is None

    def __repr__(self) -> str:
        return f"Target(base_url={self.base_url!r}, key=***)"

    async def __aenter__(self) -> Target:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None

    def with_key(self, key: str) -> Target:
        """The same deployment and session seen through another key."""
        other = Target(self.base_url, key, session=self._session)
        other._limit = self._limit
        other._timeout = self._timeout
        return other

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if self._session is None:
            raise RuntimeError("use Target as an async context manager")
        sent = {"authorization": f"Bearer {self._key}", **(headers or {})}
        async with self._limit:
            try:
                async with self._session.request(
                    method, self.base_url + path, json=payload, headers=sent, timeout=self._timeout
                ) as response:
                    raw = await response.read()
                    try:
                        body: Any = await response.json(content_type=None) if raw else None
                    except ValueError:
                        body = raw.decode("utf-8", "replace")
                    return Reply(response.status, body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return Reply(None, failure=type(exc).__name__)

    async def chat(self, model: str, messages: list[dict[str, Any]], **extra: Any) -> Reply:
        return await self.request(
            "POST", "/v1/chat/completions", {"model": model, "messages": messages, **extra}
        )

    async def ask(self, model: str, message: str, conversation_id: str | None = None) -> Reply:
        payload: dict[str, Any] = {"model": model, "message": message}
        if conversation_id is not None:
            payload["conversation_id"] = conversation_id
        return await self.request("POST", "/v1/assistant/chat", payload)

    async def preflight(self) -> list[str]:
        """The models this key may use (``GET /v1/models``); TargetError when the target
        does not answer or refuses the key."""
        reply = await self.request("GET", "/v1/models")
        if reply.status is None:
            raise TargetError(f"cannot reach {self.base_url} ({reply.failure})")
        if reply.status == 401:
            raise TargetError(f"the target at {self.base_url} refused the API key (401)")
        if reply.status == 403:
            raise TargetError("the API key may not list models (403); use a key with chat")
        if not reply.ok or not isinstance(reply.body, dict):
            raise TargetError(
                f"{self.base_url}/v1/models answered {reply.status}; is this a Bastion gateway?"
            )
        data = reply.body.get("data") or []
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
