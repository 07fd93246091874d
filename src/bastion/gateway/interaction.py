"""What one request accumulates on its way through the gateway, for the audit log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.errors import (
    BastionError,
    InvalidRequest,
    ModelNotAllowed,
    PermissionDenied,
    RateLimited,
    RequestBlocked,
    UpstreamError,
)
from bastion.identity import Principal
from bastion.ratelimit import TokenMeter
from bastion.scanners import Decision, ScanResult, Stage
from bastion.upstream.base import ChatMessage, Usage

__all__ = ["ChatInput", "Interaction", "outcome_for"]


@dataclass(slots=True)
class ChatInput:
    """A client request in provider-neutral form (from either API style)."""

    model: str
    messages: list[ChatMessage]
    stream: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    include_usage: bool = False
    # X-Bastion-Conversation: the DLP vault keeps this conversation's placeholders.
    conversation: str | None = None
    # True only when the gateway wrote ``tools`` itself (the assistant's tools and the
    # tenant's actions): no request field sets it, and such definitions are not
    # scanned as untrusted input. A client's own tools always are.
    gateway_tools: bool = False

    def check_encodable(self) -> None:
        """Refuse what cannot be re-encoded for the upstream and the audit record.

        JSON allows unpaired surrogate escapes and integers of any size; neither can
        be forwarded faithfully, so both are a client error, not a server crash.
        """
        try:
            orjson.dumps(
                [[m.role, m.content, m.name, m.tool_call_id, m.tool_calls] for m in self.messages]
            )
            orjson.dumps([self.model, self.params, self.tools, self.tool_choice])
        except orjson.JSONEncodeError:
            raise InvalidRequest(
                "The request holds values that cannot be forwarded "
                "(unpaired surrogate escapes, or integers beyond 64 bits)."
            ) from None


@dataclass(slots=True)
class Interaction:
    """Mutable per-request state; becomes exactly one audit record."""

    principal: Principal
    request_id: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    model: str = ""
    stream: bool = False
    prompt: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    response: list[str] | None = None
    blocked_stage: str | None = None
    redacted: bool = False
    recorded: bool = False
    aborted: bool = False
    # The provider's token count, once known; the meter charges it to token limits.
    usage: Usage | None = None
    meter: TokenMeter | None = None
    # What the assistant's tools touched (source, tables, rows, query hash) and did.
    data_sources: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)

    def add_results(self, stage: Stage, target: str, results: tuple[ScanResult, ...]) -> None:
        for result in results:
            if result.decision is Decision.REDACT:
                self.redacted = True
            self.verdicts.append(
                {
                    "stage": stage.value,
                    "target": target,
                    "scanner": result.scanner,
                    "decision": result.decision.label,
                    "score": round(result.score, 4),
                    "reason": result.reason,
                    "findings": [
                        {"type": f.type, "start": f.start, "end": f.end, "score": f.score}
                        for f in result.findings
                    ],
                }
            )

    def latency_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000.0, 3)


def outcome_for(interaction: Interaction, error: BastionError | None) -> str:
    """The audit outcome for how the request ended."""
    if error is None and interaction.aborted:
        return "client_disconnected"
    if error is None:
        return "redacted" if interaction.redacted else "allowed"
    if isinstance(error, RequestBlocked):
        return f"blocked_{interaction.blocked_stage or 'input'}"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, UpstreamError):
        return "upstream_error"
    if isinstance(error, InvalidRequest | ModelNotAllowed | PermissionDenied):
        return "rejected"
    return "error"
