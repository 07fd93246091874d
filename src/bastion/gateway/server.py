"""Serving: the ASGI factory uvicorn imports, and TLS 1.3-only configuration."""

from __future__ import annotations

import gc
import logging
import ssl
from typing import Any

import uvicorn

from bastion.errors import PolicyUnavailable
from bastion.gateway.app import create_app
from bastion.gateway.routing import FastPath
from bastion.gateway.runtime import Runtime
from bastion.logs import configure_logging
from bastion.settings import Settings, load_settings

__all__ = ["BastionUvicornConfig", "app_from_env", "uvicorn_config"]

log = logging.getLogger("bastion.gateway")


def app_from_env() -> FastPath:
    """Factory for ``uvicorn --factory`` and worker processes: settings from env.

    The default policy's scanners (the injection model and rule table, shared with
    every other policy) are built here rather than on the first request, and the
    start-up heap is then frozen out of the garbage collector (:func:`gc.freeze`):
    the model's tables are immutable, and a full collection that walks them stalls
    every request in flight."""
    settings = load_settings()
    configure_logging(settings.log_level)
    runtime = Runtime.build(settings)
    try:
        runtime.policies.get("default")
    except PolicyUnavailable:
        log.warning("default policy could not be loaded; requests under it will fail")
    app = create_app(runtime, hsts=settings.tls_cert_file is not None)
    gc.freeze()
    return app


class BastionUvicornConfig(uvicorn.Config):
    """uvicorn's config with the TLS floor raised to 1.3 (1.2 only by opt-in)."""

    def __init__(self, *args: Any, allow_tls12: bool = False, **kwargs: Any) -> None:
        self.allow_tls12 = allow_tls12
        super().__init__(*args, **kwargs)

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            harden(self.ssl, allow_tls12=self.allow_tls12)


def harden(context: ssl.SSLContext, *, allow_tls12: bool) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2 if allow_tls12 else ssl.TLSVersion.TLSv1_3
    context.options |= ssl.OP_NO_COMPRESSION
    if allow_tls12:
        context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")


def uvicorn_config(settings: Settings, app: Any = None) -> BastionUvicornConfig:
    """A uvicorn config for ``settings``; ``app`` defaults to the env factory."""
    tls = settings.tls_cert_file is not None
    return BastionUvicornConfig(
        app if app is not None else "bastion.gateway.server:app_from_env",
        factory=app is None,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if app is None else 1,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.access_log,
        log_level=settings.log_level,
        server_header=False,
        proxy_headers=False,
        ssl_certfile=str(settings.tls_cert_file) if tls else None,
        ssl_keyfile=str(settings.tls_key_file) if tls else None,
        allow_tls12=settings.tls_allow_tls12,
        timeout_keep_alive=30,
        log_config=None,  # bastion.logs configures logging (JSON lines)
    )
