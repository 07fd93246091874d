"""The audit log page over plain HTTP: each search filter narrows (with near misses),
paging by cursor, another tenant's records never appear, roles without ``audit.read``
are refused, content opens only for a decrypting role with a recent sign-in and every
decision about it is recorded, the export holds the tenant's lines only, the chain's
status, and bad parameters answer 400 (not a crash)."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from bastion.audit import AuditEvent, AuditLog
from bastion.authz import allowed
from bastion.console.render import CSP
from bastion.identity.directory import Directory
from bastion.sessions import SessionPolicy, SessionStore
from tests.console.test_routes import ROLES, browser, session_for
from tests.e2e.conftest import Gateway

NOW = datetime.now(UTC)


def seqs(page: str) -> list[int]:
    """The record numbers listed on a results page, in order."""
    results = page.split('id="results"', 1)[1]
    return [int(n) for n in re.findall(r'href="/console/audit/(\d+)"', results)]


def csrf(page: str) -> str:
    return page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]


def event(tenant_id: str, **fields: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "ts": NOW,
        "request_id": secrets.token_hex(8),
        "tenant_id": tenant_id,
        "user_id": "",
        "key_id": "",
        "model": "gpt-test",
        "route": "chat",
        "outcome": "allowed",
        "prompt": [{"role": "user", "content": "hello"}],
        "response": "hi",
        **fields,
    }
    return AuditEvent(**values)


def append(gateway: Gateway, events: list[AuditEvent]) -> list[int]:
    """Write ``events`` into their tenants' chains (sealed as the gateway seals)."""

    async def run() -> list[int]:
        async with AuditLog(gateway.engine, sealer=gateway.sealer) as log:
            return [(await log.append(e)).seq for e in events]

    return asyncio.run(run())


def stale_session(gateway: Gateway, role: str) -> str:
    """A session whose sign-in is older than the step-up window (15 minutes)."""
    tenant_id = gateway.identity.tenant_id("acme")
    user = Directory(gateway.engine).add_user(tenant_id, f"{role}-stale@acme.test", role, NOW)
    store = SessionStore(gateway.engine, lambda: datetime.now(UTC))
    signed_in = datetime.now(UTC) - timedelta(hours=1)
    return store.create(tenant_id, user.id, "oidc", signed_in, SessionPolicy()).cookie


def bodies(gateway: Gateway) -> list[dict[str, Any]]:
    return [orjson.loads(b) for b in gateway.audit_bodies()]


def test_each_filter_narrows_the_search(gateway: Gateway) -> None:
    """User, time range, decision, reason, data source and route each select exactly
    their records, newest first; near misses select nothing."""
    t = gateway.tenant_id
    users = Directory(gateway.engine)
    bob = users.add_user(t, "bob@acme.test", "member", NOW).id
    carol = users.add_user(t, "carol@acme.test", "member", NOW).id
    finding = {"type": "prompt_injection", "start": 0, "end": 5, "score": 0.99}
    verdict = {"stage": "input", "scanner": "pi", "decision": "block", "findings": [finding]}
    source = {"source": "sales_db", "tables": ["orders"], "status": "ran"}
    old, blocked, queried = append(
        gateway,
        [
            event(t, user_id=bob, ts=NOW - timedelta(days=3)),
            event(
                t,
                user_id=carol,
                outcome="blocked_input",
                error_code="request_blocked",
                verdicts=[verdict],
                ts=NOW - timedelta(hours=1),
            ),
            event(t, user_id=bob, route="assistant", data_sources=[source]),
        ],
    )
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    until = (NOW - timedelta(days=2)).strftime("%Y-%m-%d")
    cases: list[tuple[dict[str, str], list[int]]] = [
        ({}, [queried, blocked, old]),
        ({"user": "bob@acme.test"}, [queried, old]),
        ({"user": "BOB@acme.test"}, [queried, old]),
        ({"user": "bob@acme.tes"}, []),
        ({"from": since}, [queried, blocked]),
        ({"to": until}, [old]),
        ({"from": since, "user": "bob@acme.test"}, [queried]),
        ({"outcome": "blocked_input"}, [blocked]),
        ({"outcome": "blocked"}, []),
        ({"reason": "request_blocked"}, [blocked]),
        ({"reason": "prompt_injection"}, [blocked]),
        ({"reason": "prompt_inject"}, []),
        ({"source": "sales_db"}, [queried]),
        ({"source": "sales"}, []),
        ({"source": "sales%"}, []),
        ({"route": "assistant"}, [queried]),
        ({"route": "assist_nt"}, []),
    ]
    with browser(gateway, session_for(gateway, "security_analyst")) as http:
        for params, expected in cases:
            answer = http.get("/console/audit", params=params)
            assert answer.status_code == 200, params
            assert seqs(answer.text) == expected, params
        page = http.get("/console/audit", params={"user": "carol@acme.test"}).text
    assert "carol@acme.test" in page and "request_blocked" in page
    assert "hello" not in page.split('id="results"', 1)[1]  # metadata only


def test_results_come_fifty_a_page_with_a_cursor(gateway: Gateway) -> None:
    """120 records: 50, 50 and 20, newest first, "next" keeping the filters."""
    t = gateway.tenant_id
    made = append(gateway, [event(t, route="paging") for _ in range(120)])
    with browser(gateway, session_for(gateway, "admin")) as http:
        listed: list[int] = []
        url: str | None = "/console/audit?route=paging"
        while url is not None:
            page = http.get(url).text
            listed.extend(seqs(page))
            found = re.search(r'rel="next" href="([^"]+)"', page)
            url = found.group(1).replace("&amp;", "&") if found else None
            if url is not None:
                assert "route=paging" in url
            assert len(listed) <= 120
    assert listed == sorted(made, reverse=True)


def test_another_tenants_records_never_appear(gateway: Gateway) -> None:
    """Search, record pages and the export show the caller's tenant alone."""
    other, _ = gateway.identity.ensure_tenant("globex", NOW)
    theirs = [event(other, route="chat", prompt=[{"role": "user", "content": "globex plans"}])]
    their_seqs = append(gateway, theirs * 5)
    (mine,) = append(gateway, [event(gateway.tenant_id)])
    with browser(gateway, session_for(gateway, "admin")) as http:
        listed = seqs(http.get("/console/audit").text)
        foreign = http.get(f"/console/audit/{their_seqs[-1]}")
        export = http.get("/console/audit/export")
    assert listed == [mine]
    assert foreign.status_code == 404
    assert "globex" not in foreign.text
    lines = [orjson.loads(line) for line in export.text.splitlines()]
    assert {line["tenant_id"] for line in lines} == {gateway.tenant_id}
    assert "globex plans" not in export.text


@pytest.mark.parametrize("role", [r for r in ROLES if not allowed(r, "audit.read")])
def test_roles_without_audit_read_are_refused(gateway: Gateway, role: str) -> None:
    """Every audit route refuses them on the server (403 page, or the refusal)."""
    (seq,) = append(gateway, [event(gateway.tenant_id)])
    with browser(gateway, session_for(gateway, role)) as http:
        token = csrf(http.get("/console/audit").text)  # the 403 page carries it
        for path in ("/console/audit", f"/console/audit/{seq}", "/console/audit/verify"):
            answer = http.get(path)
            assert answer.status_code == 403, path
            assert "Record #" not in answer.text
        export = http.get("/console/audit/export")
        content = http.post(f"/console/audit/{seq}/content", headers={"x-csrf-token": token})
    assert export.status_code == 403 and "may not export" in export.text
    assert 'class="refusal"' in content.text and "hello" not in content.text


@pytest.mark.parametrize("role", ROLES)
def test_content_opens_only_for_a_decrypting_role_and_is_recorded(
    gateway: Gateway, role: str
) -> None:
    """The record page shows metadata; the prompt and response open (unsealed) only
    for a role with audit.export, and each opening is a record of its own."""
    client = gateway.openai()
    client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "the quarterly figures"}]
    )
    seq = len(gateway.audit_bodies())
    cookie = session_for(gateway, role)
    with browser(gateway, cookie) as http:
        page = http.get(f"/console/audit/{seq}")
        if not allowed(role, "audit.read"):
            assert page.status_code == 403
            return
        token = csrf(page.text)
        no_csrf = http.post(f"/console/audit/{seq}/content")
        opened = http.post(f"/console/audit/{seq}/content", headers={"x-csrf-token": token})
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert "the quarterly figures" not in page.text  # metadata only
    assert gateway.sealer is not None and "Show content" in page.text
    assert "the quarterly figures" not in no_csrf.text
    assert "the quarterly figures" in opened.text
    assert "Happy to help. You said: the quarterly figures" in opened.text
    viewed = [b for b in bodies(gateway) if b["outcome"] == "audit_content_viewed"]
    assert len(viewed) == 1
    assert viewed[0]["route"] == "console" and viewed[0]["extra"] == {"seq": seq}
    assert viewed[0]["user_id"] and viewed[0]["session_id"]
    assert gateway.verify().ok


def test_content_needs_a_recent_sign_in_and_the_refusal_is_recorded(gateway: Gateway) -> None:
    """An analyst signed in an hour ago gets a step-up link, not the content; the
    refusal is recorded (deny by default, record every decision)."""
    (seq,) = append(gateway, [event(gateway.tenant_id, prompt=[{"role": "user", "content": "q3"}])])
    with browser(gateway, stale_session(gateway, "security_analyst")) as http:
        token = csrf(http.get(f"/console/audit/{seq}").text)
        refused = http.post(f"/console/audit/{seq}/content", headers={"x-csrf-token": token})
        export = http.get("/console/audit/export")
    assert 'data-code="step_up"' in refused.text and "step_up=1" in refused.text
    assert ">q3<" not in refused.text
    assert export.status_code == 303 and "step_up=1" in export.headers["location"]
    denied = [b for b in bodies(gateway) if b["outcome"] == "audit_content_denied"]
    assert [(d["error_code"], d["extra"]) for d in denied] == [("step_up_required", {"seq": seq})]


def test_export_streams_the_tenants_lines_with_content_and_is_recorded(
    gateway: Gateway,
) -> None:
    """JSON Lines, an attachment, content unsealed, the export itself recorded."""
    client = gateway.openai()
    client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "export me"}]
    )
    with browser(gateway, session_for(gateway, "owner")) as http:
        answer = http.get("/console/audit/export")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in answer.text.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["prompt"] == [{"role": "user", "content": "export me"}]
    assert lines[-1]["outcome"] == "audit_exported" and lines[-1]["route"] == "console"
    assert not any(line.get("content_sealed") for line in lines)


def test_the_chain_status_shows_ok_then_the_first_bad_record(gateway: Gateway) -> None:
    append(gateway, [event(gateway.tenant_id) for _ in range(3)])
    with browser(gateway, session_for(gateway, "admin")) as http:
        ok = http.get("/console/audit/verify")
        fragment = http.get("/console/audit/verify", headers={"hx-request": "true"})
        with gateway.engine.begin() as conn:
            conn.execute(text("UPDATE audit_records SET outcome = 'refused' WHERE seq = 2"))
        broken = http.get("/console/audit/verify")
    assert ok.status_code == 200 and "Chain verified" in ok.text and "3 records" in ok.text
    assert fragment.text.startswith('<section id="chain"') and "<html" not in fragment.text
    assert "Chain broken" in broken.text and "record #2" in broken.text


BAD = [
    {"from": "yesterday"},
    {"to": "2025-13-01"},
    {"from": "2025-02-01", "to": "2025-01-01"},
    {"before": "abc"},
    {"before": "0"},
    {"before": "99999999999999999999999"},
    {"outcome": "drop table"},
    {"route": "chat'--"},
    {"user": "a" * 400},
    {"reason": "x\x00y"},
]


@pytest.mark.parametrize("params", BAD, ids=[next(iter(p)) for p in BAD])
def test_bad_parameters_answer_400_with_the_form(gateway: Gateway, params: dict[str, str]) -> None:
    with browser(gateway, session_for(gateway, "admin")) as http:
        answer = http.get("/console/audit", params=params)
        htmx = http.get("/console/audit", params=params, headers={"hx-request": "true"})
    assert answer.status_code == 400
    assert answer.headers["content-security-policy"] == CSP
    assert 'class="error" role="alert"' in answer.text and "<form" in answer.text
    assert htmx.status_code == 200 and 'class="error" role="alert"' in htmx.text


@pytest.mark.parametrize("path", ["abc", "0", "-1", "99999999999999999999999", "12345"])
def test_no_such_record_is_a_404_page(gateway: Gateway, path: str) -> None:
    with browser(gateway, session_for(gateway, "admin")) as http:
        answer = http.get(f"/console/audit/{path}")
        token = csrf(http.get("/console/audit").text)
        content = http.post(f"/console/audit/{path}/content", headers={"x-csrf-token": token})
    assert answer.status_code == 404 and "no such record" in answer.text
    assert 'class="refusal"' in content.text
    assert not any(b["outcome"] == "audit_content_viewed" for b in bodies(gateway))


def test_the_page_loads_for_an_analyst_without_script(gateway: Gateway) -> None:
    """A GET form and plain links: the search, the record and the chain work
    without htmx; export is offered to the roles that may export."""
    append(gateway, [event(gateway.tenant_id)])
    with browser(gateway, session_for(gateway, "security_analyst")) as http:
        page = http.get("/console/audit").text
    assert '<form class="card audit-search" method="get" action="/console/audit"' in page
    assert 'href="/console/audit/verify"' in page
    assert 'href="/console/audit/export"' in page
    assert " style=" not in page and "<script>" not in page
