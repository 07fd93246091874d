"""Audit records for a SIEM: JSON Lines, CEF, RFC 5424 syslog and OCSF.

The formats are pure functions over one exported audit record (see
:mod:`bastion.siem.formats` for the mappings). Prompt and response text never leaves:
every format starts from :func:`safe_record`, which keeps known fields only.
"""

from bastion.siem.formats import (
    ENTERPRISE_NUMBER,
    MAX_VALUE_CHARS,
    frame_octet_counting,
    safe_record,
    severity,
    to_cef,
    to_jsonl,
    to_syslog,
)
from bastion.siem.nats_sink import NatsSink
from bastion.siem.ocsf import OCSF_VERSION, to_ocsf
from bastion.siem.sinks import FORMATS, Format, Sink, SinkError, render
from bastion.siem.syslog_sink import SyslogSink

__all__ = [
    "ENTERPRISE_NUMBER",
    "FORMATS",
    "MAX_VALUE_CHARS",
    "OCSF_VERSION",
    "Format",
    "NatsSink",
    "Sink",
    "SinkError",
    "SyslogSink",
    "frame_octet_counting",
    "render",
    "safe_record",
    "severity",
    "to_cef",
    "to_jsonl",
    "to_ocsf",
    "to_syslog",
]
