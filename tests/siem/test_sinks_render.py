"""render(): one record per format; a record safe_record refuses becomes an
export_refused event instead of blocking the stream, and leaks nothing."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.siem import FORMATS, NatsSink, SyslogSink, render, safe_record, to_jsonl
from bastion.siem.sinks import refused_event
from tests.siem.records import MARKER, chat_event, exported

GOOD = exported(chat_event(), seq=7)


def refused(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON Lines rendering of ``record``, parsed back."""
    parsed: dict[str, Any] = orjson.loads(render(record, "jsonl"))
    return parsed


@pytest.mark.parametrize("format", FORMATS)
def test_a_good_record_renders_as_its_format(format: Any) -> None:
    """render() is the format function for a record safe_record accepts."""
    text = render(GOOD, format, hostname="gw1")
    assert GOOD["hash"] in text and MARKER not in text and "\n" not in text
    assert "export_refused" not in text
    if format == "jsonl":
        assert text == to_jsonl(GOOD)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_ms", MARKER),
        ("extra", [MARKER]),
        ("verdicts", {"prompt": MARKER}),
        ("user_id", 42),
        ("stream", "yes"),
        ("outcome", None),
    ],
)
def test_a_refused_record_becomes_export_refused(field: str, value: object) -> None:
    """The replacement keeps hash, seq, tenant, request id and ts and names the field,
    never its value."""
    event = refused({**GOOD, field: value})
    assert event["outcome"] == "export_refused"
    assert event["error_code"] == "export_refused"
    assert event["extra"] == {"refused_field": field}
    for kept in ("hash", "seq", "tenant_id", "request_id", "ts"):
        assert event[kept] == GOOD[kept]
    assert "prompt" not in event and "response" not in event


@pytest.mark.parametrize(
    ("field", "value", "placeholder"),
    [
        ("hash", None, "unknown"),
        ("hash", 12, "unknown"),
        ("tenant_id", ["acme"], "unknown"),
        ("seq", 0, 1),
        ("seq", True, 1),
        ("seq", "7", 1),
        ("ts", "yesterday", "1970-01-01T00:00:00+00:00"),
        ("ts", "2025-03-14T15:09:26", "1970-01-01T00:00:00+00:00"),  # no offset
    ],
)
def test_unusable_identity_fields_take_placeholders(
    field: str, value: object, placeholder: object
) -> None:
    """A refused identity field cannot be kept, so a fixed placeholder stands in."""
    event = refused({**GOOD, field: value})
    assert event["outcome"] == "export_refused"
    assert event[field] == placeholder


def test_a_missing_field_is_named() -> None:
    """A record without its request id is refused, naming request_id."""
    record = {k: v for k, v in GOOD.items() if k != "request_id"}
    event = refused(record)
    assert event["extra"]["refused_field"] == "request_id"
    assert event["request_id"] == "unknown"
    assert event["hash"] == GOOD["hash"]


def test_not_a_mapping_is_refused_as_record() -> None:
    """Even a non-mapping becomes an event, field ``record``."""
    event = refused_event(["not", "a", "record"], TypeError("an audit record is a mapping"))
    assert safe_record(event)["extra"] == {"refused_field": "record"}
    assert render(["x"], "cef")  # type: ignore[arg-type]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@given(
    field=st.sampled_from([*sorted(GOOD), "extra_field"]),
    value=_JSON,
    format=st.sampled_from(FORMATS),
)
def test_render_never_raises_and_never_leaks(field: str, value: object, format: Any) -> None:
    """Whatever one field holds, render() yields one line, and the prompt and response
    (which hold the marker) stay out."""
    text = render({**GOOD, field: value}, format, hostname="gw1")
    assert "\n" not in text and MARKER not in text


def test_render_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="jsonl, cef, syslog, ocsf"):
        render(GOOD, "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "xml"}, "SIEM format"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"app_name": "bastion gateway"}, "app_name"),
        ({"app_name": "b" * 49}, "app_name"),
        ({"hostname": "gw 1"}, "hostname"),
        ({"facility": 24}, "facility"),
        ({"timeout": 0}, "timeout"),
        ({"connect_timeout": math.inf}, "connect_timeout"),
    ],
)
def test_syslog_sink_settings_are_checked(options: dict[str, Any], message: str) -> None:
    """Bad settings fail at construction, naming what to fix."""
    settings: dict[str, Any] = {"port": 6514, "tls": None} | options
    with pytest.raises(ValueError, match=message):
        SyslogSink("127.0.0.1", **settings)


@pytest.mark.parametrize(
    ("servers", "options", "message"),
    [
        ("http://127.0.0.1:4222", {}, "nats://host:port"),
        ([], {}, "at least one server"),
        ("nats://127.0.0.1:99999", {}, "nats://host:port"),
        ("nats://127.0.0.1:4222", {"stream": "a.b"}, "stream names"),
        ("nats://127.0.0.1:4222", {"format": "syslog", "hostname": "gw 1"}, "hostname"),
        ("nats://127.0.0.1:4222", {"max_in_flight": 0}, "max_in_flight"),
        ("nats://127.0.0.1:4222", {"ack_timeout": -1}, "ack_timeout"),
    ],
)
def test_nats_sink_settings_are_checked(servers: Any, options: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NatsSink(servers, "bastion.audit", **options)


def test_importing_bastion_siem_does_not_import_nats() -> None:
    """nats-py is loaded by NatsSink on its first connection, not at import."""
    code = "import sys, bastion.siem; sys.exit('nats' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
