"""OCSF-shaped JSON for one exported audit record (see :mod:`bastion.siem.formats` for
:func:`~bastion.siem.formats.safe_record` and the severity table).

OCSF 1.3.0: gateway records are API Activity (class_uid 6003, category_uid 6),
``activity_id`` from the route's method (POST 1 Create, GET 2 Read, PUT/PATCH 3
Update, DELETE 4 Delete, else 99 Other), ``actor`` {user {uid user_id,
credential_uid key_id}, session.uid}, ``api`` {operation route, request.uid,
response.error error_code}. Sign-ins (outcomes ``signed_in``, ``sign_in_refused``,
``sign_in_failed`` or a route on ``/sso``) are Authentication (3002, category 3):
``activity_id`` 1 Logon (else 99), ``user``, ``session``, ``auth_protocol_id`` 4
OpenID / 5 SAML from the route. Both carry ``time`` (epoch ms), ``severity_id``,
``status_id`` 1 success / 2 failure, ``status_code`` (outcome), ``status_detail``
(error_code), ``duration`` (ms), ``metadata`` {product, version, uid hash,
correlation_uid request_id} and ``unmapped`` (tenant_id, seq, prev_hash, model,
verdicts with a findings count, actions, data_sources, extra). There is no
``src_endpoint``: the audit record holds no client address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion import __version__
from bastion.siem.formats import (
    _METHODS,
    _epoch_ms,
    _method,
    _severity,
    _succeeded,
    safe_record,
)

__all__ = ["OCSF_VERSION", "to_ocsf"]

OCSF_VERSION = "1.3.0"
_SIGN_IN = frozenset({"signed_in", "sign_in_refused", "sign_in_failed"})
_OCSF_SEVERITY = ("Informational", "Low", "Medium", "High", "Critical", "Fatal")
_VERDICT_SUMMARY = ("scanner", "stage", "target", "decision", "reason", "score")


def to_ocsf(
    record: Mapping[str, Any],
    *,
    vendor: str = "Bastion",
    product: str = "Gateway",
    version: str = __version__,
) -> dict[str, Any]:
    """One OCSF 1.3.0 event: API Activity, or Authentication for sign-ins."""
    rec = safe_record(record)
    sev = _severity(rec)
    ok = _succeeded(rec)
    route: str = rec.get("route") or ""
    path = route.partition(" ")[2] or route
    user = {"uid": rec.get("user_id"), "credential_uid": rec.get("key_id")}
    user = {k: v for k, v in user.items() if v}
    session = {"uid": rec["session_id"]} if rec.get("session_id") else None
    event: dict[str, Any] = {}
    if rec["outcome"] in _SIGN_IN or path.startswith("/sso") or route == "sso":
        activity = (1, "Logon") if rec["outcome"] in _SIGN_IN else (99, "Other")
        cls = (3002, "Authentication", 3, "Identity & Access Management")
        protocol = (4, "OpenID") if "/oidc" in path else (5, "SAML") if "/saml" in path else None
        event["user"] = user
        if session:
            event["session"] = session
        if protocol:
            event["auth_protocol_id"], event["auth_protocol"] = protocol
    else:
        activity = _METHODS.get(_method(rec) or "", (99, "Other"))
        cls = (6003, "API Activity", 6, "Application Activity")
        event["actor"] = {"user": user} | ({"session": session} if session else {})
        api: dict[str, Any] = {"operation": route or "unknown"}
        api["request"] = {"uid": rec["request_id"]}
        if rec.get("error_code"):
            api["response"] = {"error": rec["error_code"]}
        event["api"] = api
    severity_id = (1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6)[sev]
    event |= {"class_uid": cls[0], "class_name": cls[1]}
    event |= {"category_uid": cls[2], "category_name": cls[3]}
    event |= {"activity_id": activity[0], "activity_name": activity[1]}
    event |= {
        "type_uid": cls[0] * 100 + activity[0],
        "type_name": f"{cls[1]}: {activity[1]}",
        "time": _epoch_ms(rec),
        "severity_id": severity_id,
        "severity": _OCSF_SEVERITY[severity_id - 1],
        "status_id": 1 if ok else 2,
        "status": "Success" if ok else "Failure",
        "status_code": rec["outcome"],
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": product, "vendor_name": vendor, "version": version},
            "uid": rec["hash"],
            "correlation_uid": rec["request_id"],
            "log_name": "audit",
        },
    }
    if rec.get("error_code"):
        event["status_detail"] = rec["error_code"]
    if rec.get("latency_ms") is not None:
        event["duration"] = round(rec["latency_ms"])
    kept = ("tenant_id", "seq", "prev_hash", "model", "stream", "content_sealed", "actions")
    unmapped = {k: rec[k] for k in (*kept, "data_sources", "extra") if k in rec}
    unmapped["bastion_severity"] = sev
    unmapped["verdicts"] = [
        {k: v[k] for k in _VERDICT_SUMMARY if k in v} | {"findings": len(v.get("findings", []))}
        for v in rec.get("verdicts", [])
        if isinstance(v, dict)
    ]
    event["unmapped"] = unmapped
    return event
