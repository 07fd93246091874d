"""One SIEM destination in the settings (``BASTION_SIEM_SINKS``, a JSON list) and the
sink it builds.

::

    BASTION_SIEM_SINKS='[
      {"name": "soc", "kind": "syslog", "host": "siem.example", "port": 6514,
       "tls": true, "ca_file": "/etc/bastion/siem-ca.pem", "format": "syslog"},
      {"name": "bus", "kind": "nats", "servers": ["nats://127.0.0.1:4222"],
       "subject": "bastion.audit", "format": "ocsf"}
    ]'

Each sink is forwarded continuously by its own stream (``siem:<name>``) with its own
persisted cursor: renaming a sink starts it over (``start_at``: ``"start"``, every
record of every tenant, or ``"now"``).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bastion.siem.sinks import Format, Sink

__all__ = ["SiemSinkConfig", "build_sink"]


class SiemSinkConfig(BaseModel):
    """Where audit records go: syslog over TCP or TLS, or NATS JetStream."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: Literal["syslog", "nats"]
    format: Format | None = Field(
        default=None, description="syslog, cef, jsonl or ocsf (default: syslog / jsonl)."
    )
    start_at: Literal["start", "now"] = "start"
    region: str = Field(default="", max_length=64)  # where the receiver is (residency)
    # syslog
    host: str = ""
    port: int = Field(default=0, ge=0, le=65535)
    app_name: str = "bastion"
    facility: int = Field(default=13, ge=0, le=23)
    # both: TLS (syslog: on with tls=true; NATS: with tls=true or tls:// URLs)
    tls: bool = False
    ca_file: Path | None = None
    server_name: str | None = None
    # nats
    servers: tuple[str, ...] = ()
    subject: str = ""
    stream: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> SiemSinkConfig:
        if self.kind == "syslog" and (not self.host or not self.port):
            raise ValueError(f"SIEM sink {self.name!r}: syslog needs host and port")
        if self.kind == "nats" and (not self.servers or not self.subject):
            raise ValueError(f"SIEM sink {self.name!r}: nats needs servers and subject")
        if self.ca_file is not None and not self.tls:
            raise ValueError(f"SIEM sink {self.name!r}: ca_file needs tls = true")
        return self

    @property
    def stream_name(self) -> str:
        return f"siem:{self.name}"

    def tls_context(self) -> ssl.SSLContext | None:
        """A verifying client context (system CAs, or ``ca_file``), or None."""
        if not self.tls:
            return None
        cafile = str(self.ca_file) if self.ca_file is not None else None
        return ssl.create_default_context(cafile=cafile)


def build_sink(config: SiemSinkConfig, hostname: str) -> Sink:
    """The sink ``config`` describes (``nats`` is imported only when used)."""
    if config.kind == "syslog":
        from bastion.siem.syslog_sink import SyslogSink

        return SyslogSink(
            config.host,
            config.port,
            tls=config.tls_context(),
            format=config.format or "syslog",
            app_name=config.app_name,
            hostname=hostname,
            facility=config.facility,
            server_hostname=config.server_name,
        )
    from bastion.siem.nats_sink import NatsSink

    return NatsSink(
        list(config.servers),
        config.subject,
        stream=config.stream,
        format=config.format or "jsonl",
        hostname=hostname,
        tls=config.tls_context(),
    )
