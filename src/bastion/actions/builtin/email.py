"""``send_email``: send one plain-text email through the deployment's SMTP relay.

Email leaves the organisation, so the floor is APPROVE: a second person reads the
summary (every recipient, the subject, the body's length) before anything is sent.
What the model proposes is held to a strict schema before anyone sees it:

* ``to`` is 1 to 10 items, each exactly one address: CR, LF, commas, semicolons,
  angle brackets and ``=?`` (an encoded word a mail client might display as another
  address) are refused before parsing (no second address or header smuggled into one
  item), then :func:`email_validator.validate_email` checks the syntax and the
  address is kept in its normalized ASCII form (no display name, no quoted local part,
  no IP-literal domain, no internationalized address whose look-alike letters an
  approver could misread: IDN domains appear in their ``xn--`` form);
* ``subject`` (1 to 200 characters) holds no control character at all and no Unicode
  line or paragraph separator: a CR/LF in a header would start a new header (``Bcc:``)
  and is refused, not stripped;
* ``body`` (1 to 20000 characters) is plain text; line breaks are allowed, every other
  control character is refused.

The tenant's ``[actions.send_email]`` table decides where mail may go, deny by default:
``allowed_domains`` is required and non-empty (``example.com`` exactly, or
``*.example.com`` for its subdomains, not the domain itself) and ``max_recipients``
caps the list. :meth:`SendEmail.check` applies it when the call is proposed and
:meth:`SendEmail.run` again before sending. Refusals name the position (``to.2``),
never the address.

Sending uses STARTTLS when the deployment requires it (``smtp_starttls``, on by
default), verifying the relay's certificate; a relay that does not offer STARTTLS is
refused and nothing is sent in clear. Every message carries ``X-Bastion-Requested-By``
with the requesting user's address so a recipient can tell who asked for it. SMTP
failures return ``smtp_failed`` without the server's words.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
import unicodedata
from email.message import EmailMessage
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from bastion.actions.catalog import ActionResult, ActionServices
from bastion.actions.registry import ActionSpec, Tier
from bastion.identity.caller_ref import CallerRef

__all__ = ["SendEmail", "SendEmailArguments", "SendEmailConfig"]

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 10
_FORBIDDEN_IN_ADDRESS = frozenset("\r\n,;<>")
_TABLE = "[actions.send_email]"


def _recipient(value: str) -> str:
    if "=?" in value or any(ch in _FORBIDDEN_IN_ADDRESS or _is_control(ch) for ch in value):
        raise ValueError("must be exactly one email address")  # =?: an RFC 2047 word
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValueError("is not a valid email address") from None  # its text echoes it
    return f"{checked.local_part}@{checked.ascii_domain}"


def _subject(value: str) -> str:
    if any(_is_control(ch) or unicodedata.category(ch) in ("Zl", "Zp") for ch in value):
        raise ValueError("must be one line without control characters")
    return value


def _body(value: str) -> str:
    if any(_is_control(ch) and ch not in "\r\n" for ch in value):
        raise ValueError("may hold line breaks but no other control characters")
    return value


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


Recipient = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_recipient)]


class SendEmailArguments(BaseModel):
    """What the model proposes: recipients, subject and a plain-text body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    to: list[Recipient] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    subject: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_subject)]
    body: Annotated[str, Field(min_length=1, max_length=20000), AfterValidator(_body)]

    def __repr__(self) -> str:  # addresses and text are personal data
        return f"SendEmailArguments(recipients={len(self.to)})"


class SendEmailConfig(BaseModel):
    """The tenant's ``[actions.send_email]`` table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    allowed_domains: list[str] = Field(min_length=1)
    max_recipients: int = Field(default=MAX_RECIPIENTS, ge=1, le=MAX_RECIPIENTS)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [_domain_entry(entry, i) for i, entry in enumerate(value)]

    def allows(self, domain: str) -> bool:
        """Whether mail may go to ``domain`` (ASCII, lower case)."""
        for entry in self.allowed_domains:
            if entry.startswith("*."):
                if domain.endswith(entry[1:]):
                    return True
            elif domain == entry:
                return True
        return False


def _domain_entry(entry: str, index: int) -> str:
    where = f"allowed_domains.{index}"
    name = entry.strip().lower().rstrip(".")
    bare = name[2:] if name.startswith("*.") else name
    labels = bare.split(".")
    if len(bare) > 253 or len(labels) < 2 or not all(_is_label(label) for label in labels):
        raise ValueError(
            f"{where} must be a domain (example.com) or *.domain (*.example.com), "
            "in ASCII (xn-- form for international names)"
        )
    return name


def _is_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label.isascii()
        and all(ch.isalnum() or ch == "-" for ch in label)
        and not label.startswith("-")
        and not label.endswith("-")
    )


_SPEC = ActionSpec(
    name="send_email",
    description=(
        "Send a plain-text email to one or more recipients (an approver must agree "
        "first). Only domains the organisation allows may receive it."
    ),
    arguments=SendEmailArguments,
    floor=Tier.APPROVE,
    writes=True,
    permissions=("actions.use",),
    rate_limit="20/hour",
)


class SendEmail:
    """The ``send_email`` action (see the module doc)."""

    spec: ActionSpec = _SPEC
    config: type[BaseModel] = SendEmailConfig

    def __repr__(self) -> str:
        return "SendEmail()"

    def summary(self, arguments: SendEmailArguments, config: SendEmailConfig) -> str:
        subject = arguments.subject.replace("\\", "\\\\").replace('"', '\\"')
        return (
            f"Send an email to {', '.join(arguments.to)} with subject "
            f'"{subject}" ({len(arguments.body)} characters)'
        )

    def check(self, arguments: SendEmailArguments, config: SendEmailConfig) -> str | None:
        if not isinstance(arguments, SendEmailArguments) or not isinstance(config, SendEmailConfig):
            return "send_email: the call or the policy table is malformed"
        if len(arguments.to) > config.max_recipients:
            return (
                f"send_email: {len(arguments.to)} recipients, but {_TABLE} "
                f"max_recipients allows at most {config.max_recipients}"
            )
        for index, address in enumerate(arguments.to):
            domain = address.rsplit("@", 1)[-1].lower()
            if not config.allows(domain):
                return (
                    f"send_email: recipient to.{index} is at a domain not allowed by "
                    f"{_TABLE} allowed_domains"
                )
        return None

    def run(
        self,
        services: ActionServices,
        caller: CallerRef,
        arguments: SendEmailArguments,
        config: SendEmailConfig,
    ) -> ActionResult:
        relay = services.smtp
        if relay is None:
            return ActionResult(False, "email_disabled", "email is not set up on this gateway")
        problem = self.check(arguments, config)  # again: the policy may have changed
        if problem is not None:
            return ActionResult(False, "not_allowed", problem)
        try:
            message = _message(relay.sender, caller, arguments)
        except (ValueError, TypeError):  # a CR/LF in the sender or requester (settings)
            return ActionResult(False, "invalid_message", "the email could not be built")
        recipients = list(arguments.to)
        try:
            with smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout) as client:
                client.ehlo()
                if relay.starttls:
                    if not client.has_extn("starttls"):
                        log.warning("send_email refused: the SMTP relay does not offer STARTTLS")
                        return _smtp_failed("the SMTP relay does not offer STARTTLS")
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                refused = client.send_message(message, from_addr=relay.sender, to_addrs=recipients)
        except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
            log.warning("send_email failed: %s", type(exc).__name__)  # no server text
            return _smtp_failed("the SMTP relay did not accept the email")
        if refused:
            return ActionResult(
                False,
                "smtp_failed",
                f"the SMTP relay refused {len(refused)} of {len(recipients)} recipients",
                {"recipients": len(recipients) - len(refused), "refused": len(refused)},
            )
        return ActionResult(
            True,
            "done",
            f"email sent to {len(recipients)} recipients",
            {"recipients": len(recipients)},
        )


def _message(sender: str, caller: CallerRef, arguments: SendEmailArguments) -> EmailMessage:
    # email.policy.default (EmailMessage's) raises ValueError on CR/LF in a header value.
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(arguments.to)
    message["Subject"] = arguments.subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "bastion.invalid"
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message["X-Bastion-Requested-By"] = caller.user_email
    message.set_content(arguments.body)
    return message


def _smtp_failed(message: str) -> ActionResult:
    return ActionResult(False, "smtp_failed", message)
