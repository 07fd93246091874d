"""OCSF events: API Activity for gateway records, Authentication for sign-ins."""

from __future__ import annotations

import orjson
import pytest

from bastion.audit.record import GENESIS_HASH
from bastion.siem import OCSF_VERSION, to_ocsf
from tests.siem.records import TS_MS, blocked, chat_event, exported

# --- OCSF ----------------------------------------------------------------------------


def test_ocsf_api_activity() -> None:
    record = blocked()
    event = to_ocsf(record, version="2.1")
    assert (event["class_uid"], event["category_uid"], event["activity_id"]) == (6003, 6, 1)
    assert event["type_uid"] == 600301
    assert event["time"] == TS_MS and isinstance(event["time"], int)
    assert event["severity_id"] == 4 and event["status_id"] == 2
    assert event["status_detail"] == "request_blocked" and event["status_code"] == "blocked_output"
    assert event["metadata"] == {
        "version": OCSF_VERSION,
        "product": {"name": "Gateway", "vendor_name": "Bastion", "version": "2.1"},
        "uid": record["hash"],
        "correlation_uid": "req-0001",
        "log_name": "audit",
    }
    assert event["actor"] == {
        "user": {"uid": "alice", "credential_uid": "key-7"},
        "session": {"uid": "sess-9"},
    }
    assert event["api"] == {
        "operation": "POST /v1/assistant/chat",
        "request": {"uid": "req-0001"},
        "response": {"error": "request_blocked"},
    }
    assert event["duration"] == 12 or event["duration"] == 13
    unmapped = event["unmapped"]
    assert unmapped["tenant_id"] == "acme" and unmapped["seq"] == 1
    assert unmapped["prev_hash"] == GENESIS_HASH
    assert unmapped["verdicts"] == [
        {
            "scanner": "secrets",
            "stage": "output",
            "target": "response",
            "decision": "block",
            "reason": "secret_detected",
            "score": 1.0,
            "findings": 0,
        }
    ]
    orjson.dumps(event)  # JSON-serialisable as is


def test_ocsf_success_and_other_activity() -> None:
    event = to_ocsf(exported(chat_event(route="/v1/chat/completions")))
    assert event["status_id"] == 1 and event["status"] == "Success"
    assert event["activity_id"] == 99 and event["severity_id"] == 1
    assert "status_detail" not in event


@pytest.mark.parametrize(
    ("route", "outcome", "status_id", "protocol"),
    [
        ("GET /sso/{tenant}/oidc/callback", "signed_in", 1, 4),
        ("POST /sso/{tenant}/saml/acs", "sign_in_refused", 2, 5),
        ("sso", "sign_in_refused", 2, None),
    ],
)
def test_ocsf_sign_ins_are_authentication(
    route: str, outcome: str, status_id: int, protocol: int | None
) -> None:
    error = None if status_id == 1 else "unknown_user"
    record = exported(chat_event(route=route, outcome=outcome, error_code=error, key_id=""))
    event = to_ocsf(record)
    assert (event["class_uid"], event["category_uid"], event["activity_id"]) == (3002, 3, 1)
    assert event["type_uid"] == 300201
    assert event["user"] == {"uid": "alice"} and event["session"] == {"uid": "sess-9"}
    assert event["status_id"] == status_id
    assert event.get("auth_protocol_id") == protocol
    assert "api" not in event and "actor" not in event


def test_ocsf_required_fields_have_their_types() -> None:
    for record in (exported(chat_event()), blocked()):
        event = to_ocsf(record)
        for name in ("class_uid", "category_uid", "activity_id", "type_uid", "time"):
            assert type(event[name]) is int
        assert event["severity_id"] in range(1, 7)
        assert event["status_id"] in (1, 2)
        assert isinstance(event["metadata"]["product"]["name"], str)
        assert event["metadata"]["version"] == "1.3.0"
