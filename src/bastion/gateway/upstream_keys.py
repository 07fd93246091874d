"""Upstream provider keys kept as sealed secrets, reopened when they change.

``Runtime.build`` opens each model's ``api_key_secret`` once, and refuses to start
without it. A key rotated later (the ``compromised_credentials`` playbook, or
``bastion secrets set`` from another process) reaches the running gateway two ways:
the playbook run in this process reopens at once (:meth:`UpstreamKeys.reopen`), and a
watcher compares the secrets' ``updated_at`` every ``upstream_key_refresh_seconds`` so
every other process follows within that time. Requests already on their way keep the
key they started with; the next ones use the new key (the upstream pool gives a changed
model config a fresh adapter).

If a named secret is deleted or no longer opens, the gateway keeps the key it has and
logs the model (never the value): removing a secret from Bastion does not revoke it at
the provider, and a gateway that fell back to sending no key would only trade one
outage for another. Revoke the old key at the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import anyio.to_thread

from bastion.secrets import SecretError, SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.settings import ModelConfig

__all__ = ["UpstreamKeys"]

log = logging.getLogger("bastion.gateway")


class UpstreamKeys:
    """The sealed upstream keys of ``models``; ``apply`` receives the reopened models.

    ``models``: the configured models (with ``api_key_secret`` names); ``interval``:
    seconds between checks of the secrets' ``updated_at`` (0: no watcher).
    """

    def __init__(
        self,
        models: Sequence[ModelConfig],
        store: SecretStore | None,
        apply: Callable[[list[ModelConfig]], None],
        *,
        interval: float,
    ) -> None:
        self._models = list(models)
        self._store = store
        self._apply = apply
        self._interval = interval
        self._stamps: dict[str, datetime] | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"UpstreamKeys(secrets={list(self.names)!r}, interval={self._interval})"

    @property
    def names(self) -> tuple[str, ...]:
        """The secret names the models use."""
        return tuple(sorted({m.api_key_secret for m in self._models if m.api_key_secret}))

    def reopen(self, names: Sequence[str] = ()) -> None:
        """Open every model's secret again and apply the result (``names``: the ones
        just rotated; all are reopened). Raises ``SecretError``; then nothing changes
        (and the same stamps are not retried: the next change is)."""
        del names  # all are reopened, so a rotation of several lands as one change
        self._stamps = self._read_stamps()
        self._apply(open_model_keys(self._models, self._store))

    def _read_stamps(self) -> dict[str, datetime]:
        if self._store is None:
            return {}
        wanted = set(self.names)
        return {info.name: info.updated_at for info in self._store.list() if info.name in wanted}

    def check(self) -> bool:
        """Reopen if any secret changed since the last look; whether it did."""
        stamps = self._read_stamps()
        if self._stamps is None:
            self._stamps = stamps  # the first look: what Runtime.build opened
            return False
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        self._apply(open_model_keys(self._models, self._store))
        log.info("upstream keys reopened secrets=%d", len(stamps))
        return True

    async def start(self) -> None:
        """Watch the secrets (when any model names one and the interval is set)."""
        if not self.names or self._interval <= 0 or self._task is not None:
            return
        await anyio.to_thread.run_sync(self.check)  # take the first stamps now
        self._task = asyncio.create_task(self._watch(), name="bastion-upstream-keys")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await anyio.to_thread.run_sync(self.check)
            except SecretError as exc:
                # The message names the model and the secret, never its value.
                log.error("upstream keys kept as they were: %s", exc)
            except Exception as exc:  # the database may be down; try again next time
                log.warning("upstream key check failed error=%s", type(exc).__name__)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
