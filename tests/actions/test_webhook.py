"""call_webhook and the outbound POST under it: only configured targets, only allowed
hosts, the connection pinned to the checked address, no redirect followed, bounded."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bastion.actions import ActionRegistry, Refusal, ValidatedCall, validate_call
from bastion.actions._http import ACTIONS_SETTING, post_json, url_problem
from bastion.actions.builtin.webhook import CallWebhook, CallWebhookArguments, CallWebhookConfig
from bastion.actions.catalog import Action, ActionServices
from bastion.assistant.tools import CallerRef
from bastion.datasources._hosts import HostNotAllowed, HostPolicy
from bastion.datasources.executor import Executor
from tests.ports import free_port
from tests.tls_helpers import make_cert

CALLER = CallerRef(tenant_id="t1", user_id="u1", user_email="ana@example.com", role="member")
SECRET = "s3cr3t-token"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A loopback HTTP server recording every request. Paths: /ok (204), /fail (500),
    /redirect (302 to /ok), /slow (answers once ``release`` is set)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", "0")), 65536)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                receiver.requests.append(Received(path, dict(self.headers.items()), body))
                if path == "/slow":
                    receiver.release.wait(10)
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.url("/ok"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(500 if path == "/fail" else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # a client that gave up (the timeout test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.release.set()
        r.server.shutdown()
        r.server.server_close()
        thread.join(5)


def loopback() -> HostPolicy:
    return HostPolicy(["127.0.0.1"], setting="actions_allowed_hosts")


def services(hosts: HostPolicy | None = None, timeout: float = 5.0) -> ActionServices:
    return ActionServices(executor=Executor(), hosts=hosts or loopback(), http_timeout=timeout)


def config(**targets: str) -> CallWebhookConfig:
    return CallWebhookConfig.model_validate({"targets": targets})


def arguments(target: str = "ops", event: str = "deploy.requested", message: str = "hi") -> Any:
    return CallWebhookArguments.model_validate(
        {"target": target, "event": event, "message": message}
    )


# The action's declaration and the model's arguments


def test_the_action_is_declared_as_asked_and_satisfies_the_protocol() -> None:
    action: Action = CallWebhook()
    spec = CallWebhook.spec
    assert (spec.name, spec.floor.name, spec.writes) == ("call_webhook", "APPROVE", True)
    assert spec.permissions == ("actions.use",)
    assert spec.rate_limit == "30/hour"
    assert action.config is CallWebhookConfig


@pytest.mark.parametrize(
    "raw",
    [
        {"target": "https://evil.example/", "event": "x", "message": ""},  # a URL, not a name
        {"target": "Ops", "event": "x", "message": ""},
        {"target": "ops", "event": "x y", "message": ""},
        {"target": "ops", "event": "x", "message": "a\rb"},
        {"target": "ops", "event": "x", "message": "a\x00b"},
        {"target": "ops", "event": "x", "message": "a" * 4001},
        {"target": "ops", "event": "x", "message": "", "url": "http://127.0.0.1/"},
        {"target": "ops", "event": "x", "message": "", "headers": {"X-A": "b"}},
    ],
)
def test_the_model_cannot_name_a_url_header_or_control_character(raw: dict[str, str]) -> None:
    registry = ActionRegistry((CallWebhook.spec,))
    refusal = validate_call(registry, "call_webhook", json.dumps(raw), "member", {})
    assert isinstance(refusal, Refusal)
    assert refusal.code == "invalid_arguments"
    assert "evil" not in refusal.message


def test_a_message_may_hold_newlines_and_tabs() -> None:
    registry = ActionRegistry((CallWebhook.spec,))
    raw = json.dumps({"target": "ops", "event": "deploy.requested", "message": "a\n\tb"})
    call = validate_call(registry, "call_webhook", raw, "member", {})
    assert isinstance(call, ValidatedCall)


# The tenant's table


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://127.0.0.1/{SECRET}",
        f"http://user:{SECRET}@127.0.0.1/",
        f"http://127.0.0.1/hook#{SECRET}",
        f"http:///{SECRET}",
        f"http://127.0.0.1/{SECRET} x",
        f"not a url {SECRET}",
    ],
)
def test_a_bad_target_url_is_refused_when_the_table_loads_without_echoing_it(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        config(ops=url)
    messages = [e["msg"] for e in caught.value.errors(include_input=False)]
    assert messages and all(SECRET not in m for m in messages)
    assert url_problem(url) is not None


def test_a_bad_target_name_is_refused_when_the_table_loads() -> None:
    for name in ("Ops", "ops\n", "1ops", "a" * 65):
        with pytest.raises(ValidationError):
            CallWebhookConfig.model_validate({"targets": {name: "https://hooks.example/x"}})
    with pytest.raises(ValidationError):
        CallWebhookConfig.model_validate({"targets": {}, "extra": 1})


def test_the_summary_names_the_target_and_never_the_url() -> None:
    table = config(ops=f"https://hooks.example/{SECRET}")
    summary = CallWebhook().summary(arguments(message="x" * 120), table)
    assert summary == 'POST event "deploy.requested" to webhook "ops" (120 characters of message)'
    assert SECRET not in repr(table)


def test_an_unknown_target_is_refused_by_check_naming_the_configured_ones() -> None:
    table = config(ops="https://hooks.example/a", billing="https://hooks.example/b")
    problem = CallWebhook().check(arguments(target="sales"), table)
    assert problem is not None
    assert "billing, ops" in problem
    assert "hooks.example" not in problem
    assert CallWebhook().check(arguments(target="ops"), table) is None


# Running it against a loopback receiver


def test_the_event_arrives_with_its_body_and_headers(receiver: Receiver) -> None:
    table = config(ops=receiver.url("/ok"))
    result = CallWebhook().run(services(), CALLER, arguments(message="line 1\nline 2"), table)
    assert (result.ok, result.code, dict(result.detail)) == (True, "done", {"status": 204})
    [request] = receiver.requests
    assert request.path == "/ok"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "bastion"
    body = json.loads(request.body)
    assert set(body) == {"event", "message", "requested_by", "sent_at"}
    assert body["event"] == "deploy.requested"
    assert body["message"] == "line 1\nline 2"
    assert body["requested_by"] == "ana@example.com"
    assert body["sent_at"].endswith("+00:00")


def test_run_checks_the_target_again(receiver: Receiver) -> None:
    result = CallWebhook().run(services(), CALLER, arguments(target="gone"), config())
    assert (result.ok, result.code) == (False, "not_allowed")
    assert receiver.requests == []


def test_a_host_not_in_the_allow_list_is_refused_and_nothing_is_sent(receiver: Receiver) -> None:
    hosts = HostPolicy(["10.0.0.0/8"], setting="actions_allowed_hosts")
    result = CallWebhook().run(
        services(hosts), CALLER, arguments(), config(ops=receiver.url("/ok"))
    )
    assert (result.ok, result.code) == (False, "host_not_allowed")
    assert "127.0.0.1" not in result.message
    assert receiver.requests == []
    empty = HostPolicy([], setting="actions_allowed_hosts")
    result = CallWebhook().run(
        services(empty), CALLER, arguments(), config(ops=receiver.url("/ok"))
    )
    assert result.code == "host_not_allowed"
    assert receiver.requests == []


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    table = config(ops=receiver.url("/redirect"))
    result = CallWebhook().run(services(), CALLER, arguments(), table)
    assert (result.ok, result.code, dict(result.detail)) == (
        False,
        "webhook_failed",
        {"status": 302},
    )
    assert receiver.paths() == ["/redirect"]  # /ok was never asked for


def test_a_non_2xx_answer_is_a_failure(receiver: Receiver) -> None:
    result = CallWebhook().run(services(), CALLER, arguments(), config(ops=receiver.url("/fail")))
    assert (result.ok, result.code, dict(result.detail)) == (
        False,
        "webhook_failed",
        {"status": 500},
    )


def test_a_name_resolving_to_a_disallowed_address_is_refused(receiver: Receiver) -> None:
    """The name is not listed; it resolves outside the listed network: refused before
    any connection (the receiver sees nothing)."""
    hosts = HostPolicy(
        ["127.0.0.1"], resolve=lambda host, port: ["10.1.2.3"], setting="actions_allowed_hosts"
    )
    table = config(ops=receiver.url("/ok", host="hooks.example"))
    result = CallWebhook().run(services(hosts), CALLER, arguments(), table)
    assert result.code == "host_not_allowed"
    listed = HostPolicy(
        ["hooks.example"],
        resolve=lambda host, port: ["169.254.169.254"],  # metadata: hard-denied
        setting="actions_allowed_hosts",
    )
    assert CallWebhook().run(services(listed), CALLER, arguments(), table).code == (
        "host_not_allowed"
    )
    assert receiver.requests == []


def test_the_connection_is_pinned_to_the_checked_address(receiver: Receiver) -> None:
    """A listed name is resolved once, by the policy; the client connects to that
    address and never asks DNS again, so a second answer (rebinding) changes nothing.
    hooks.example does not exist in real DNS: the request arriving proves the pin."""
    answers = iter([["127.0.0.1"], ["10.9.9.9"], ["10.9.9.9"]])
    asked: list[str] = []

    def rebinding(host: str, port: int | None) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    hosts = HostPolicy(["hooks.example"], resolve=rebinding, setting="actions_allowed_hosts")
    table = config(ops=receiver.url("/ok", host="hooks.example"))
    result = CallWebhook().run(services(hosts), CALLER, arguments(), table)
    assert (result.ok, result.code) == (True, "done")
    assert asked == ["hooks.example"]
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.example:{receiver.port}"


def test_a_timeout_returns_its_code(receiver: Receiver) -> None:
    table = config(ops=receiver.url("/slow"))
    result = CallWebhook().run(services(timeout=0.3), CALLER, arguments(), table)
    receiver.release.set()
    assert (result.ok, result.code) == (False, "timeout")


def test_nothing_listening_is_connect_failed() -> None:
    port = free_port()  # nothing listens there
    table = config(ops=f"http://127.0.0.1:{port}/ok")
    result = CallWebhook().run(services(), CALLER, arguments(), table)
    assert (result.ok, result.code) == (False, "connect_failed")


def test_https_to_an_untrusted_certificate_is_connect_failed(
    receiver: Receiver, tmp_path: Path
) -> None:
    _, cert, key = make_cert(tmp_path)  # signed by a CA nobody trusts
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    table = config(ops=receiver.url("/ok").replace("http://", "https://"))
    result = CallWebhook().run(services(), CALLER, arguments(), table)
    assert (result.ok, result.code) == (False, "connect_failed")
    assert receiver.requests == []


# post_json directly


def test_post_json_refuses_bad_urls_and_payloads_without_connecting(receiver: Receiver) -> None:
    hosts = loopback()
    for url in ("ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "", "http://127.0.0.1/#f"):
        assert post_json(hosts, url, {}, timeout=1).code == "bad_url"
    assert post_json(hosts, receiver.url("/ok"), {"x": float("nan")}, timeout=1).code == (
        "bad_payload"
    )
    assert post_json(hosts, receiver.url("/ok"), {"x": object()}, timeout=1).code == ("bad_payload")
    assert receiver.requests == []
    with pytest.raises(ValueError, match="timeout"):
        post_json(hosts, receiver.url("/ok"), {}, timeout=0)


def test_post_json_from_a_worker_thread_and_never_on_a_loop(receiver: Receiver) -> None:
    async def scenario() -> None:
        result = await asyncio.to_thread(
            post_json, loopback(), receiver.url("/ok"), {"a": 1}, timeout=5
        )
        assert (result.ok, result.status) == (True, 204)
        with pytest.raises(RuntimeError, match="worker thread"):
            post_json(loopback(), receiver.url("/ok"), {"a": 1}, timeout=5)

    asyncio.run(scenario())
    assert receiver.paths() == ["/ok"]


def test_the_policy_names_the_actions_setting() -> None:
    hosts = HostPolicy(["127.0.0.1"], setting=ACTIONS_SETTING)
    with pytest.raises(HostNotAllowed, match="BASTION_ACTIONS_ALLOWED_HOSTS"):
        hosts.check("10.0.0.1")
    with pytest.raises(HostNotAllowed, match="actions_allowed_hosts"):
        HostPolicy([], setting=ACTIONS_SETTING).check("127.0.0.1")
    with pytest.raises(ValueError, match="actions_allowed_hosts"):
        HostPolicy(["*.x"], setting=ACTIONS_SETTING)
