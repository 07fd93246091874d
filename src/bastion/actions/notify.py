"""Telling approvers that an action waits for them: one POST to the deployment's URL.

The approval flow builds the payload (approval id, tool, requester, expiry, action
hash) and calls :func:`notify_approvers` from a worker thread. Delivery goes through
:func:`bastion.actions._http.post_json`, so the notification URL is held to the same
rules as a webhook: its host must be in ``actions_allowed_hosts``, the connection is
pinned to the checked addresses, no redirect is followed and the exchange is bounded
by ``timeout``.

A notification is a courtesy, never a gate: an approval is valid whether or not it was
delivered, and a failure must not break the request that created it. So this never
raises for a failure; it returns ``"sent"`` or a short error code (see
:data:`bastion.actions._http.ERROR_CODES`) that the flow may record. Neither the URL
nor the payload appears in what it returns or logs.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.actions._http import post_json
from bastion.datasources._hosts import HostPolicy

__all__ = ["notify_approvers"]


def notify_approvers(
    hosts: HostPolicy, url: str, payload: Mapping[str, object], *, timeout: float
) -> str:
    """POST ``payload`` as JSON to ``url``; ``"sent"`` on a 2xx answer, else the error
    code (``bad_url``, ``bad_payload``, ``host_not_allowed``, ``timeout``,
    ``connect_failed``, ``bad_status``; ``bad_call`` for a timeout out of range or a
    call from a thread running an event loop). Blocking; never raises."""
    try:
        result = post_json(hosts, url, payload, timeout=timeout)
    except (TypeError, ValueError, RuntimeError):  # a bad timeout, or called on a loop
        return "bad_call"  # the flow's mistake, still not fatal to the approval
    return "sent" if result.ok else result.code
