"""send_email: one address per item, no header injection, only allowed domains, and the
mail goes through a loopback SMTP relay (aiosmtpd) exactly as approved, over STARTTLS
when required (never in clear)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from bastion.actions import ActionRegistry, Refusal, ValidatedCall, validate_call
from bastion.actions.builtin.email import SendEmail, SendEmailArguments, SendEmailConfig
from bastion.actions.catalog import Action, ActionServices, SmtpRelay
from bastion.assistant.tools import CallerRef
from bastion.datasources._hosts import HostPolicy
from bastion.datasources.executor import Executor
from tests.ports import free_port
from tests.tls_helpers import make_cert

CALLER = CallerRef(tenant_id="t1", user_id="u1", user_email="ana@example.com", role="member")
SENDER = "bastion@gateway.example"


class Collect:
    """An SMTP handler keeping every envelope; refuses recipients named nobody@."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(  # noqa: N802 - the aiosmtpd API
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


class LoopbackController(Controller):
    """aiosmtpd's Controller on 127.0.0.1 with a port the OS picks (port 0)."""

    def _trigger_server(self) -> None:
        server = self.server
        if self.port == 0 and isinstance(server, asyncio.Server):
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture
def relay_factory() -> Iterator[Any]:
    started: list[Controller] = []

    def start(tls_context: ssl.SSLContext | None = None) -> tuple[Collect, int]:
        handler = Collect()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": 0}
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        controller = LoopbackController(handler, server_hostname="relay.test", **kwargs)
        controller.start()
        started.append(controller)
        return handler, controller.port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def relay(relay_factory: Any) -> tuple[Collect, int]:
    handler, port = relay_factory()
    return handler, port


def services(port: int | None, *, starttls: bool = False) -> ActionServices:
    smtp = None if port is None else SmtpRelay("127.0.0.1", port, SENDER, starttls, 5.0)
    return ActionServices(
        executor=Executor(),
        hosts=HostPolicy(["127.0.0.1"], setting="actions_allowed_hosts"),
        smtp=smtp,
    )


def text(message: EmailMessage) -> str:
    """The body as text; SMTP carries CRLF line ends."""
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def config(*domains: str, max_recipients: int = 10) -> SendEmailConfig:
    return SendEmailConfig.model_validate(
        {"allowed_domains": list(domains) or ["example.com"], "max_recipients": max_recipients}
    )


def propose(raw: dict[str, Any]) -> ValidatedCall | Refusal:
    registry = ActionRegistry((SendEmail.spec,))
    return validate_call(registry, "send_email", json.dumps(raw), "member", {})


def arguments(
    to: list[str] | None = None, subject: str = "Q3 numbers", body: str = "Hello\nteam"
) -> SendEmailArguments:
    call = propose({"to": to or ["bo@example.com"], "subject": subject, "body": body})
    assert isinstance(call, ValidatedCall), call
    assert isinstance(call.arguments, SendEmailArguments)
    return call.arguments


# Declaration and arguments


def test_the_action_is_declared_as_asked_and_satisfies_the_protocol() -> None:
    action: Action = SendEmail()
    spec = SendEmail.spec
    assert (spec.name, spec.floor.name, spec.writes) == ("send_email", "APPROVE", True)
    assert spec.permissions == ("actions.use",)
    assert spec.rate_limit == "20/hour"
    assert action.config is SendEmailConfig
    assert "bo@" not in repr(arguments())


def test_recipients_are_normalized() -> None:
    args = arguments(to=["Bo@Example.COM", "cy@bücher.example"])
    assert args.to == ["Bo@example.com", "cy@xn--bcher-kva.example"]


@pytest.mark.parametrize(
    "raw",
    [
        {"subject": "Hi\r\nBcc: evil@attacker.example"},
        {"subject": "Hi\nBcc: evil@attacker.example"},
        {"subject": "Hi\rBcc: evil@attacker.example"},
        {"subject": "Hi\u2028Bcc: evil@attacker.example"},
        {"subject": "Hi\tthere"},
        {"subject": ""},
        {"subject": "x" * 201},
        {"to": ["bo@example.com\r\nBcc: evil@attacker.example"]},
        {"to": ["bo@example.com\nevil@attacker.example"]},
        {"to": ["bo@example.com, evil@attacker.example"]},
        {"to": ["bo@example.com;evil@attacker.example"]},
        {"to": ["Bo <evil@attacker.example>"]},
        {"to": ['"bo,evil"@example.com']},
        {"to": ["evil@[127.0.0.1]"]},
        {"to": ["=?utf-8?q?evil=40attacker.example?=@example.com"]},
        {"to": ["not-an-address"]},
        {"to": []},
        {"to": [f"u{i}@example.com" for i in range(11)]},
        {"body": "a\x00b"},
        {"body": "a\x1b[31mb"},
        {"body": ""},
        {"body": "x" * 20001},
        {"bcc": ["evil@attacker.example"]},
    ],
)
def test_header_injection_and_malformed_arguments_are_refused(raw: dict[str, Any]) -> None:
    call = {"to": ["bo@example.com"], "subject": "Q3", "body": "Hello", **raw}
    refusal = propose(call)
    assert isinstance(refusal, Refusal)
    assert refusal.code == "invalid_arguments"
    assert "attacker" not in refusal.message
    assert "evil" not in refusal.message


def test_a_body_may_hold_line_breaks() -> None:
    assert arguments(body="line 1\r\nline 2\nline 3").body == "line 1\r\nline 2\nline 3"


# The tenant's table


def test_the_table_is_deny_by_default_and_checked() -> None:
    tables: tuple[dict[str, Any], ...] = (
        {},
        {"allowed_domains": []},
        {"allowed_domains": ["example.com"], "other": 1},
        {"allowed_domains": ["*"]},
        {"allowed_domains": ["*.com.."]},
        {"allowed_domains": ["localhost"]},
        {"allowed_domains": ["bad domain.com"]},
        {"allowed_domains": ["example.com"], "max_recipients": 11},
        {"allowed_domains": ["example.com"], "max_recipients": 0},
    )
    for table in tables:
        with pytest.raises(ValidationError):
            SendEmailConfig.model_validate(table)
    assert config("Example.COM.").allowed_domains == ["example.com"]


def test_check_refuses_a_domain_not_allowed_naming_the_position() -> None:
    action = SendEmail()
    args = arguments(to=["bo@example.com", "evil@attacker.example"])
    problem = action.check(args, config("example.com"))
    assert problem is not None
    assert "to.1" in problem
    assert "attacker" not in problem
    assert action.check(arguments(to=["bo@example.com"]), config("example.com")) is None


def test_a_wildcard_allows_subdomains_only() -> None:
    action = SendEmail()
    table = config("*.example.com")
    assert action.check(arguments(to=["bo@eu.example.com"]), table) is None
    assert action.check(arguments(to=["bo@a.b.example.com"]), table) is None
    assert action.check(arguments(to=["bo@example.com"]), table) is not None
    assert action.check(arguments(to=["bo@badexample.com"]), table) is not None


def test_check_refuses_too_many_recipients() -> None:
    args = arguments(to=["a@example.com", "b@example.com", "c@example.com"])
    problem = SendEmail().check(args, config(max_recipients=2))
    assert problem is not None
    assert "at most 2" in problem


def test_the_summary_says_exactly_what_will_be_sent() -> None:
    args = arguments(to=["ana@example.com", "bo@example.com"], body="x" * 812)
    summary = SendEmail().summary(args, config())
    assert summary == (
        'Send an email to ana@example.com, bo@example.com with subject "Q3 numbers" '
        "(812 characters)"
    )


# Sending through a loopback relay


def test_the_email_arrives_exactly_as_approved(relay: tuple[Collect, int]) -> None:
    handler, port = relay
    args = arguments(to=["Bo@Example.com", "cy@example.com"], body="Hello\nteam")
    result = SendEmail().run(services(port), CALLER, args, config())
    assert (result.ok, result.code, dict(result.detail)) == (True, "done", {"recipients": 2})
    [envelope] = handler.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["Bo@example.com", "cy@example.com"]
    [message] = handler.messages()
    assert message["From"] == SENDER
    assert message["To"] == "Bo@example.com, cy@example.com"
    assert message["Subject"] == "Q3 numbers"
    assert message["X-Bastion-Requested-By"] == "ana@example.com"
    assert message["Date"]
    assert message["Message-ID"].endswith("@gateway.example>")
    assert message.get_content_type() == "text/plain"
    assert text(message) == "Hello\nteam\n"
    assert message["Bcc"] is None


def test_non_ascii_text_is_encoded_not_refused(relay: tuple[Collect, int]) -> None:
    handler, port = relay
    args = arguments(subject="Zahlen für Q3", body="Grüße")
    assert SendEmail().run(services(port), CALLER, args, config()).ok
    [message] = handler.messages()
    assert message["Subject"] == "Zahlen für Q3"
    assert text(message) == "Grüße\n"


def test_run_checks_the_policy_again(relay: tuple[Collect, int]) -> None:
    handler, port = relay
    args = arguments(to=["bo@example.com"])
    result = SendEmail().run(services(port), CALLER, args, config("other.example"))
    assert (result.ok, result.code) == (False, "not_allowed")
    assert handler.envelopes == []


def test_no_relay_configured_is_email_disabled() -> None:
    result = SendEmail().run(services(None), CALLER, arguments(), config())
    assert (result.ok, result.code) == (False, "email_disabled")


def test_a_relay_that_is_down_is_smtp_failed() -> None:
    port = free_port()  # nothing listens there
    result = SendEmail().run(services(port), CALLER, arguments(), config())
    assert (result.ok, result.code) == (False, "smtp_failed")


def test_a_refused_recipient_is_reported_without_the_server_text(
    relay: tuple[Collect, int],
) -> None:
    _, port = relay
    args = arguments(to=["bo@example.com", "nobody@example.com"])
    result = SendEmail().run(services(port), CALLER, args, config())
    assert (result.ok, result.code) == (False, "smtp_failed")
    assert dict(result.detail) == {"recipients": 1, "refused": 1}
    assert "no such user" not in result.message
    assert "nobody" not in result.message


def test_starttls_required_but_not_offered_sends_nothing(relay: tuple[Collect, int]) -> None:
    handler, port = relay
    result = SendEmail().run(services(port, starttls=True), CALLER, arguments(), config())
    assert (result.ok, result.code) == (False, "smtp_failed")
    assert handler.envelopes == []


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_to_a_trusted_relay_delivers(
    relay_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the default context trusts the test CA
    handler, port = relay_factory(_server_context(cert, key))
    result = SendEmail().run(services(port, starttls=True), CALLER, arguments(), config())
    assert (result.ok, result.code) == (True, "done")
    assert len(handler.envelopes) == 1


def test_starttls_to_an_untrusted_relay_sends_nothing(
    relay_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, cert, key = make_cert(tmp_path)  # signed by a CA nobody trusts
    handler, port = relay_factory(_server_context(cert, key))
    result = SendEmail().run(services(port, starttls=True), CALLER, arguments(), config())
    assert (result.ok, result.code) == (False, "smtp_failed")
    assert handler.envelopes == []
    assert "SSLCertVerificationError" in caplog.text  # refused for the certificate
