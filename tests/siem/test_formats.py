"""SIEM formats: content never leaves, hostile values stay inside their field."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.siem import (
    ENTERPRISE_NUMBER,
    MAX_VALUE_CHARS,
    frame_octet_counting,
    safe_record,
    severity,
    to_cef,
    to_jsonl,
    to_ocsf,
    to_syslog,
)
from tests.siem.records import MARKER, TS_MS, blocked, chat_event, exported


def all_outputs(record: dict[str, Any]) -> list[str]:
    syslog = to_syslog(record, hostname="gw1.example")
    return [
        to_jsonl(record),
        to_cef(record, version="1.0"),
        syslog,
        frame_octet_counting(syslog).decode(),
        orjson.dumps(to_ocsf(record)).decode(),
    ]


# --- a small CEF parser, written from the standard, to check what we emit -------------


def split_header(line: str) -> tuple[list[str], str]:
    """The 7 unescaped header fields (unescaped) and the raw extension."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while len(fields) < 7:
        if i >= len(line):
            raise AssertionError("fewer than 7 unescaped pipes")
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] in "\\|":
            current.append(line[i + 1])
            i += 2
            continue
        if char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    return fields, line[i:]


_CEF_UNESCAPE = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


def parse_extension(text: str) -> dict[str, str]:
    """Key/value pairs: a key is ``[A-Za-z0-9_]+`` before an unescaped ``=``."""
    seps: list[int] = []  # positions of unescaped '='
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            seps.append(i)
        i += 1
    pairs: list[tuple[str, int, int]] = []  # key, value start, key start
    for pos in seps:
        match = re.search(r"[A-Za-z0-9_]+$", text[:pos])
        assert match is not None, "an unescaped '=' without a key"
        start = match.start()
        assert start == 0 or text[start - 1] == " "
        pairs.append((match.group(), pos + 1, start))
    out: dict[str, str] = {}
    for n, (key, value_start, _) in enumerate(pairs):
        end = pairs[n + 1][2] - 1 if n + 1 < len(pairs) else len(text)
        raw = text[value_start:end]
        out[key] = re.sub(r"\\(.)", lambda m: _CEF_UNESCAPE[m.group(1)], raw, flags=re.S)
    return out


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    header, extension = split_header(line)
    return header, parse_extension(extension)


# --- a small RFC 5424 structured-data parser -----------------------------------------


def parse_syslog(message: str) -> tuple[list[str], dict[str, dict[str, str]], str]:
    """(header tokens, SD elements, MSG). Fails on unbalanced brackets or quotes."""
    tokens = message.split(" ", 6)
    assert len(tokens) == 7
    rest = tokens[6]
    elements: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(rest) and rest[i] == "[":
        match = re.match(r"\[([!-~]+?)(?=[ \]])", rest[i:])
        assert match is not None
        sd_id = match.group(1)
        i += match.end()
        params: dict[str, str] = {}
        while rest[i] == " ":
            name_match = re.match(r' ([!#-<>-\\^-~]{1,32})="', rest[i:])
            assert name_match is not None, "bad SD-PARAM name"
            i += name_match.end()
            value: list[str] = []
            while rest[i] != '"':
                if rest[i] == "\\" and rest[i + 1] in '"\\]':
                    value.append(rest[i + 1])
                    i += 2
                    continue
                assert rest[i] != "]", "an unescaped ']' inside a value"
                value.append(rest[i])
                i += 1
            params[name_match.group(1)] = "".join(value)
            i += 1
        assert rest[i] == "]", "an SD-ELEMENT is not closed"
        elements[sd_id] = params
        i += 1
    assert rest[i] == " "
    return tokens[:6], elements, rest[i + 1 :]


SD_ID = f"bastion@{ENTERPRISE_NUMBER}"
EXTRA_ID = f"bastionExtra@{ENTERPRISE_NUMBER}"

# --- content never leaves -------------------------------------------------------------


def test_prompt_and_response_never_leave_in_any_format() -> None:
    record = exported(chat_event())
    record["extra"] = {"prompt": MARKER, "response": MARKER, "content": MARKER, "ok": "yes"}
    record["verdicts"][0]["text"] = MARKER
    record["messages"] = [MARKER]  # an unknown top-level field is dropped, not forwarded
    assert MARKER in orjson.dumps(record).decode()
    for output in all_outputs(record):
        assert MARKER not in output
        assert "my secret plan" not in output
    assert set(safe_record(record)).isdisjoint({"prompt", "response", "messages"})


def test_a_sealed_export_line_keeps_its_flag() -> None:
    record = exported(chat_event())
    del record["prompt"], record["response"]
    record["content_sealed"] = True
    assert orjson.loads(to_jsonl(record))["content_sealed"] is True
    assert "bastionSealed=true" in to_cef(record, version="1.0")


def test_extra_keeps_only_safe_keys_and_short_scalars() -> None:
    record = exported(chat_event())
    record["extra"] = {
        "tier": 2,
        "score": 0.5,
        "flag": True,
        "none": None,
        "long": "x" * 1000,
        "Bad-Key": "v",
        "k" * 65: "v",
        "has space": "v",
        "changes": {"nested": MARKER},
        "items": [MARKER],
        "nan": float("nan"),
    }
    extra = safe_record(record)["extra"]
    assert extra == {"tier": 2, "score": 0.5, "flag": True, "none": None, "long": "x" * 256}
    assert MAX_VALUE_CHARS == 256


def test_list_entries_drop_nested_content() -> None:
    record = exported(chat_event())
    safe = safe_record(record)
    assert safe["actions"] == [{"tool": "run_query", "status": "ran"}]
    assert safe["data_sources"] == [record["data_sources"][0]]
    assert safe["verdicts"][0]["findings"] == record["verdicts"][0]["findings"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant_id", None),
        ("ts", MARKER),
        ("ts", "2025-03-14T15:09:26"),
        ("seq", True),
        ("seq", 0),
        ("hash", 7),
        ("route", ["POST /x"]),
        ("latency_ms", "12"),
        ("verdicts", {"a": 1}),
        ("extra", [MARKER]),
        ("stream", "yes"),
    ],
)
def test_malformed_records_are_refused_without_echoing_values(field: str, value: Any) -> None:
    record = exported(chat_event())
    record[field] = value
    with pytest.raises(ValueError, match=field) as info:
        to_jsonl(record)
    assert MARKER not in str(info.value)


def test_missing_required_field_is_refused() -> None:
    record = exported(chat_event())
    del record["hash"]
    with pytest.raises(ValueError, match="hash"):
        to_cef(record, version="1.0")


# --- JSON Lines ----------------------------------------------------------------------


def test_jsonl_is_one_sorted_line() -> None:
    record = exported(chat_event(route="POST /v1/x\ny", error_code="a\nb\u2028c"))
    line = to_jsonl(record)
    assert "\n" not in line and "\r" not in line
    parsed = orjson.loads(line)
    assert list(parsed) == sorted(parsed)
    assert line == orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS).decode()
    assert parsed["hash"] == record["hash"] and parsed["seq"] == 1
    assert parsed["route"] == "POST /v1/x\ny"


def test_outputs_are_deterministic() -> None:
    record = exported(chat_event())
    assert all_outputs(record) == all_outputs(dict(record))


# --- severity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "extra", "expected"),
    [
        ("allowed", {}, 1),
        ("redacted", {}, 3),
        ("rejected", {}, 4),
        ("action_refused", {}, 5),
        ("source_shared", {}, 2),
        ("source_unshared", {}, 2),
        ("source_change_refused", {}, 5),
        ("blocked_input", {}, 6),
        ("blocked_output", {}, 7),
        ("blocked_tool_result", {}, 6),
        ("something_new", {}, 5),
        ("export_failed", {}, 4),
        ("alert_exfiltration", {"severity": "critical"}, 9),
        ("alert_exfiltration", {"severity": "LOW"}, 3),
        ("alert_burst", {"severity": 10}, 10),
        ("alert_burst", {"severity": 11}, 8),
        ("alert_burst", {"severity": True}, 8),
        ("alert_burst", {}, 8),
    ],
)
def test_severity_is_derived_from_the_outcome(
    outcome: str, extra: dict[str, Any], expected: int
) -> None:
    record = exported(chat_event(outcome=outcome, extra=extra))
    assert severity(record) == expected


# --- CEF -----------------------------------------------------------------------------


def test_cef_header_and_dictionary_keys() -> None:
    record = blocked()
    header, ext = parse_cef(to_cef(record, version="2.1"))
    assert header == [
        "CEF:0",
        "Bastion",
        "Gateway",
        "2.1",
        "blocked_output",
        "Blocked output",
        "7",
    ]
    assert ext["rt"] == str(TS_MS)
    assert ext["act"] == "blocked_output" and ext["outcome"] == "failure"
    assert ext["externalId"] == "req-0001" and ext["suser"] == "alice"
    assert ext["reason"] == "request_blocked" and ext["requestMethod"] == "POST"
    assert (ext["cs1Label"], ext["cs1"]) == ("tenant_id", "acme")
    assert (ext["cs2Label"], ext["cs2"]) == ("route", "POST /v1/assistant/chat")
    assert (ext["cs3Label"], ext["cs3"]) == ("audit_hash", record["hash"])
    assert (ext["cn1Label"], ext["cn1"]) == ("audit_seq", "1")
    assert ext["cfp1"] == "12.5" and ext["bastionBlockedBy"] == "secrets"
    assert ext["bastion_tier"] == "2" and ext["flexString1"] == "sess-9"


def test_cef_allowed_is_a_success() -> None:
    header, ext = parse_cef(to_cef(exported(chat_event()), version="1"))
    assert header[6] == "1" and ext["outcome"] == "success"
    assert "reason" not in ext


@pytest.mark.parametrize(
    ("outcome", "error_code", "expected"),
    [
        ("source_shared", None, "success"),
        ("source_unshared", None, "success"),
        ("source_change_refused", "not_found", "failure"),
    ],
)
def test_cef_source_share_changes(outcome: str, error_code: str | None, expected: str) -> None:
    """Sharing and withdrawing a share are successes; a refused change is a failure."""
    route = "DELETE /v1/sources/{source_id}/shares/{kind}/{grantee}"
    event = chat_event(outcome=outcome, error_code=error_code, route=route)
    header, ext = parse_cef(to_cef(exported(event), version="1"))
    assert header[4] == outcome and ext["outcome"] == expected


def test_cef_hostile_values_round_trip() -> None:
    hostile = "a|b=c\\d\ne\rf \\= |x=1 y=2\\"
    record = exported(
        chat_event(
            route=hostile, error_code=hostile, outcome="blocked|in=put\\", extra={"n": hostile}
        )
    )
    line = to_cef(record, vendor="Ven|dor\\", product="P=1", version="1|2")
    assert "\n" not in line and "\r" not in line
    header, ext = parse_cef(line)
    assert header[1:6] == ["Ven|dor\\", "P=1", "1|2", "blocked|in=put\\", "Blocked|in=put\\"]
    assert ext["cs2"] == hostile and ext["reason"] == hostile and ext["bastion_n"] == hostile
    assert ext["act"] == "blocked|in=put\\"


def test_cef_header_controls_become_spaces() -> None:
    record = exported(chat_event(outcome="a\nb"))
    header, _ = parse_cef(to_cef(record, version="1\r\n"))
    assert header[3:5] == ["1  ", "a b"]


def _cef_expected(value: str) -> str:
    return re.sub(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]", " ", value)[:256]


@given(st.text(max_size=300), st.text(max_size=40), st.text(max_size=40))
def test_cef_arbitrary_text_never_breaks_the_header(value: str, vendor: str, note: str) -> None:
    record = exported(chat_event(extra={"v": value, "note": note}))
    line = to_cef(record, vendor=vendor, version=note)
    header, ext = parse_cef(line)
    header_text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", vendor)[:63]
    assert header[0] == "CEF:0" and header[1] == header_text and header[6] == "1"
    assert ext["bastion_v"] == _cef_expected(value)
    assert ext["bastion_note"] == _cef_expected(note)
    assert ext["cs3"] == record["hash"] and ext["act"] == "allowed"
    extension = split_header(line)[1]
    assert extension.startswith("rt=")
    prefix = line[: len(line) - len(extension)]
    assert len(re.findall(r"(?<!\\)(?:\\\\)*\|", prefix)) == 7  # exactly 7 unescaped pipes


# --- syslog --------------------------------------------------------------------------


def test_syslog_header_pri_and_structured_data() -> None:
    message = to_syslog(exported(chat_event()), hostname="gw1.example")
    head, sd, msg = parse_syslog(message)
    stamp = "2025-03-14T15:09:26.535897Z"
    assert head == ["<110>1", stamp, "gw1.example", "bastion", "-", "allowed"]
    assert head[0] == f"<{13 * 8 + 6}>1"
    params = sd[SD_ID]
    assert params["tenant_id"] == "acme" and params["seq"] == "1"
    assert params["outcome"] == "allowed" and params["severity"] == "1"
    assert params["latency_ms"] == "12.5" and params["stream"] == "false"
    assert sd[EXTRA_ID] == {"idp": "okta", "tier": "2"}
    assert msg == "Bastion audit record 1: allowed"
    assert msg.isascii() and not msg.startswith("\ufeff")  # plain ASCII MSG, no BOM


def test_syslog_pri_follows_facility_and_severity() -> None:
    message = to_syslog(blocked(), hostname="gw1", facility=10)
    assert message.startswith(f"<{10 * 8 + 3}>1 ")  # severity 7 -> syslog error (3)
    alert = exported(chat_event(outcome="alert_mass_export", extra={"severity": "critical"}))
    assert to_syslog(alert, hostname="gw1").startswith(f"<{13 * 8 + 1}>1 ")


def test_syslog_offset_timestamps_are_sent_in_utc() -> None:
    record = exported(chat_event())
    record["ts"] = "2025-03-14T17:09:26.000001+02:00"
    assert to_syslog(record, hostname="h").split(" ")[1] == "2025-03-14T15:09:26.000001Z"


def test_syslog_escapes_hostile_values() -> None:
    hostile = 'x"] [evil@1 a="b"]\\'
    record = exported(chat_event(route=hostile, extra={"note": hostile}))
    message = to_syslog(record, hostname="gw1")
    assert 'x\\"\\] [evil@1 a=\\"b\\"\\]\\\\' in message
    _, sd, _ = parse_syslog(message)
    assert set(sd) == {SD_ID, EXTRA_ID}
    assert sd[SD_ID]["route"] == hostile and sd[EXTRA_ID]["note"] == hostile


def test_syslog_msgid_is_short_printable_ascii() -> None:
    record = exported(chat_event(outcome="alert_" + "x" * 40 + " é"))
    msgid = to_syslog(record, hostname="h").split(" ")[5]
    assert msgid == ("alert_" + "x" * 40)[:32]
    assert re.fullmatch(r"[!-~]{1,32}", msgid)


def test_syslog_drops_extra_names_over_32_characters() -> None:
    record = exported(chat_event(extra={"k" * 33: "v", "short": "w"}))
    _, sd, _ = parse_syslog(to_syslog(record, hostname="h"))
    assert sd[EXTRA_ID] == {"short": "w"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hostname": "bad host"},
        {"hostname": ""},
        {"hostname": "hé"},
        {"hostname": "h", "app_name": "a" * 49},
        {"hostname": "h", "facility": 24},
    ],
)
def test_syslog_refuses_bad_header_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="syslog"):
        to_syslog(exported(chat_event()), **kwargs)


def test_octet_counting_counts_utf8_octets() -> None:
    message = to_syslog(exported(chat_event(extra={"city": "Zürich 東京"})), hostname="h")
    framed = frame_octet_counting(message)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(message.encode("utf-8")) == len(rest)
    assert int(length) > len(message)
    assert rest.decode("utf-8") == message


@given(st.text(max_size=300), st.text(max_size=300))
def test_syslog_arbitrary_text_keeps_the_sd_balanced(value: str, route: str) -> None:
    record = exported(chat_event(route=route, extra={"v": value}))
    message = to_syslog(record, hostname="h")
    assert "\n" not in message and "\r" not in message
    _, sd, msg = parse_syslog(message)
    controls = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"
    assert sd[EXTRA_ID]["v"] == re.sub(controls, " ", value)[:256]
    assert sd[SD_ID]["route"] == re.sub(controls, " ", route)
    assert msg == "Bastion audit record 1: allowed"
