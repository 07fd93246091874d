"""A pool of upstream adapters, one per configured model, owned by the application."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bastion.settings import ModelConfig
from bastion.upstream.anthropic import AnthropicUpstream
from bastion.upstream.base import Upstream
from bastion.upstream.openai_compat import OpenAIUpstream

__all__ = ["UpstreamFactory", "UpstreamPool", "make_upstream"]

UpstreamFactory = Callable[[ModelConfig], Upstream]


def make_upstream(config: ModelConfig) -> Upstream:
    """The adapter for ``config.provider`` (raises ValueError on a bad TLS/pin setting)."""
    if config.provider == "anthropic":
        return AnthropicUpstream(config)
    return OpenAIUpstream(config)


class UpstreamPool:
    """Adapters cached per model name; each owns one connection pool.

    A config that changed under the same name gets a fresh adapter; the old one keeps
    serving requests already holding it and is closed by :meth:`aclose`.
    """

    __slots__ = ("_active", "_factory", "_retired")

    def __init__(self, factory: UpstreamFactory = make_upstream) -> None:
        self._factory = factory
        self._active: dict[str, tuple[ModelConfig, Upstream]] = {}
        self._retired: list[Upstream] = []

    def __repr__(self) -> str:
        return f"UpstreamPool(models={sorted(self._active)!r})"

    def get(self, config: ModelConfig) -> Upstream:
        """The adapter for ``config``, created on first use."""
        entry = self._active.get(config.name)
        if entry is not None:
            if entry[0] == config:
                return entry[1]
            self._retired.append(entry[1])
        upstream = self._factory(config)
        self._active[config.name] = (config, upstream)
        return upstream

    @property
    def models(self) -> Mapping[str, ModelConfig]:
        return {name: entry[0] for name, entry in self._active.items()}

    async def aclose(self) -> None:
        """Close every adapter this pool created."""
        upstreams = [entry[1] for entry in self._active.values()] + self._retired
        self._active.clear()
        self._retired.clear()
        for upstream in upstreams:
            await upstream.aclose()
