"""The models a running gateway serves: the registry's current versions, keys opened.

``Runtime.build`` applies the configured models to the registry (once per change),
then serves each alias's current version with its sealed upstream key opened, and
refuses to start without a key. Later changes reach the running gateway two ways:

* a key rotation run by a playbook in this process reopens at once
  (:meth:`ModelTable.reload`);
* a watcher compares the registry's aliases and the sealed keys' ``updated_at`` every
  ``models_refresh_seconds``, so a ``bastion models rollback``, ``bastion secrets set``
  or an incident's key rotation in another process is served within that time.

Requests already on their way finish with the model and key they started with; the
next ones use the new table (the upstream pool gives a changed model config a fresh
adapter). If the new table cannot be built (a named secret deleted or damaged), the
gateway keeps serving the table it has and logs the model and secret name, never a
value: removing a secret from Bastion does not revoke it at the provider, and a
gateway that fell back to sending no key would trade one outage for another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread

from bastion.governance.registry import ModelRegistry
from bastion.secrets import SecretError, SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.settings import ModelConfig

__all__ = ["ModelTable"]

log = logging.getLogger("bastion.gateway")


class ModelTable:
    """``configured``: the settings' models (their extra headers, and what the registry
    lacks); ``apply`` receives each new table; ``interval``: seconds between checks (0:
    no watcher)."""

    def __init__(
        self,
        configured: Sequence[ModelConfig],
        registry: ModelRegistry,
        store: SecretStore | None,
        apply: Callable[[list[ModelConfig]], None],
        *,
        interval: float,
    ) -> None:
        self._configured = list(configured)
        self._registry = registry
        self._store = store
        self._apply = apply
        self._interval = interval
        self._stamps: tuple[Any, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"ModelTable(interval={self._interval})"

    def build(self) -> list[ModelConfig]:
        """The table to serve now; raises ``SecretError`` (naming model and secret)."""
        return open_model_keys(self._registry.served(self._configured), self._store)

    @property
    def secret_names(self) -> tuple[str, ...]:
        """The sealed-secret names the served models use."""
        served = self._registry.served(self._configured)
        return tuple(sorted({m.api_key_secret for m in served if m.api_key_secret}))

    def reload(self, names: Sequence[str] = ()) -> None:
        """Build and apply the table now (``names``: secrets just rotated; the whole
        table is rebuilt). Raises ``SecretError``; then nothing changes, and the same
        state is not retried by the watcher (its next change is)."""
        del names
        self._stamps = self._read_stamps()
        self._apply(self.build())

    def _read_stamps(self) -> tuple[Any, ...]:
        secrets: dict[str, datetime] = {}
        if self._store is not None:
            secrets = {info.name: info.updated_at for info in self._store.list()}
        return (self._registry.stamp(), sorted(secrets.items()))

    def check(self) -> bool:
        """Rebuild and apply the table if the registry or a secret changed since the
        last look; whether it did."""
        stamps = self._read_stamps()
        if self._stamps is None:
            self._stamps = stamps  # the first look: what Runtime.build served
            return False
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        self._apply(self.build())
        log.info("models reloaded")
        return True

    async def start(self) -> None:
        """Watch for changes (unless the interval is 0)."""
        if self._interval <= 0 or self._task is not None:
            return
        await anyio.to_thread.run_sync(self.check)  # take the first stamps now
        self._task = asyncio.create_task(self._watch(), name="bastion-model-table")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await anyio.to_thread.run_sync(self.check)
            except SecretError as exc:
                # The message names the model and the secret, never its value.
                log.error("models kept as they were: %s", exc)
            except Exception as exc:  # the database may be down; try again next time
                log.warning("model table check failed error=%s", type(exc).__name__)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
