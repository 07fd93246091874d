"""Approver notifications: delivered through the same guarded POST as webhooks, and a
failure is a code, never an exception (an approval stands whether or not it was told)."""

from __future__ import annotations

import asyncio
import json

from bastion.actions.notify import notify_approvers
from bastion.datasources._hosts import HostPolicy
from tests.actions.test_webhook import Receiver
from tests.actions.test_webhook import receiver as receiver  # the fixture

PAYLOAD = {
    "approval_id": "ap_1",
    "tool": "send_email",
    "requester": "ana@example.com",
    "expires_at": "2026-12-04T08:00:00+00:00",
    "action_hash": "ab" * 32,
}


def loopback() -> HostPolicy:
    return HostPolicy(["127.0.0.1"], setting="actions_allowed_hosts")


def test_a_notification_is_delivered(receiver: Receiver) -> None:
    assert notify_approvers(loopback(), receiver.url("/ok"), PAYLOAD, timeout=5) == "sent"
    [request] = receiver.requests
    assert json.loads(request.body) == PAYLOAD
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "bastion"


def test_a_host_not_allowed_is_a_code_and_nothing_is_sent(receiver: Receiver) -> None:
    hosts = HostPolicy(["hooks.example"], setting="actions_allowed_hosts")
    assert notify_approvers(hosts, receiver.url("/ok"), PAYLOAD, timeout=5) == "host_not_allowed"
    empty = HostPolicy([], setting="actions_allowed_hosts")
    assert notify_approvers(empty, receiver.url("/ok"), PAYLOAD, timeout=5) == "host_not_allowed"
    assert receiver.requests == []


def test_failures_are_codes_never_exceptions(receiver: Receiver) -> None:
    hosts = loopback()
    assert notify_approvers(hosts, receiver.url("/fail"), PAYLOAD, timeout=5) == "bad_status"
    assert notify_approvers(hosts, receiver.url("/redirect"), PAYLOAD, timeout=5) == "bad_status"
    assert notify_approvers(hosts, "javascript:alert(1)", PAYLOAD, timeout=5) == "bad_url"
    assert notify_approvers(hosts, receiver.url("/ok"), {"x": {1, 2}}, timeout=5) == "bad_payload"
    assert notify_approvers(hosts, receiver.url("/ok"), PAYLOAD, timeout=-1) == "bad_call"
    assert receiver.paths() == ["/fail", "/redirect"]


def test_a_timeout_is_a_code(receiver: Receiver) -> None:
    code = notify_approvers(loopback(), receiver.url("/slow"), PAYLOAD, timeout=0.3)
    receiver.release.set()
    assert code == "timeout"


def test_called_on_an_event_loop_it_returns_a_code(receiver: Receiver) -> None:
    async def on_the_loop() -> str:
        return notify_approvers(loopback(), receiver.url("/ok"), PAYLOAD, timeout=5)

    assert asyncio.run(on_the_loop()) == "bad_call"
    assert receiver.requests == []
