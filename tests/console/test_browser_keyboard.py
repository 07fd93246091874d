"""The console for a person who uses only the keyboard, and for a screen reader, in a
real browser (Debian's Chromium under Playwright): an approver signs in and approves a
colleague's pending action with Tab and Enter alone, and every stop shows where the
focus is; every page an admin sees names each of its controls, has one ``<main>`` and
one ``<h1>``, and fits a laptop's and a wide screen's width without scrolling sideways."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.console import test_browser_approvals
from tests.console.browser import (  # noqa: F401 (db_url: SQLite only)
    SHOTS,
    at_oidc_provider,
    csp_violations,
    db_url,
    pages_of,
    sign_in,
)
from tests.console.test_approvals_page import (
    gateway_extra_settings,  # noqa: F401 (a fixture)
    propose,
)
from tests.console.test_browser_approvals import approvers_and_webhook
from tests.e2e.actions_world import Hooks
from tests.e2e.conftest import Gateway
from tests.sso.oidc_provider import OidcProvider

receiver = test_browser_approvals.receiver  # the fixture: the ``ops`` webhook's receiver
TAB_STOPS = 60  # more than any console page has before the control a test looks for
LAP = 400  # more than any console page has in all
WIDTHS: tuple[ViewportSize, ...] = ({"width": 1280, "height": 800}, {"width": 1920, "height": 1080})
# Pages whose screenshot (docs/console/<slug>.png) no other browser test takes.
UNSHOT = ("posture", "threat-model")

# What the focused element shows: a drawn outline or a box shadow (a focus ring).
RING = """el => {
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  return outline || (s.boxShadow !== '' && s.boxShadow !== 'none');
}"""
# The controls without an accessible name: no aria-labelledby text, aria-label, label
# (for= or around it) nor, for a button, text of its own. Placeholders and titles are
# not names.
UNNAMED = """() => {
  const text = s => (s || '').replace(/\\s+/g, ' ').trim();
  const name = el => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    const labelledBy = ids.map(id => document.getElementById(id)?.textContent || '');
    return text(labelledBy.join(' '))
      || text(el.getAttribute('aria-label'))
      || text([...(el.labels || [])].map(label => label.textContent).join(' '))
      || (el.tagName === 'BUTTON' ? text(el.textContent) : '')
      || (['submit', 'reset', 'button'].includes(el.type) ? text(el.value) : '');
  };
  return [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden' && !name(el))
    .map(el => el.outerHTML.slice(0, 160));
}"""

# Whether the focus has come round to an element it had (or to none): a lap is done.
LAPPED = """() => {
  const el = document.activeElement;
  window.tabbed = window.tabbed || new WeakSet();
  if (!el || el === document.body || window.tabbed.has(el)) return true;
  window.tabbed.add(el);
  return false;
}"""


def focused_without_ring(p: Page) -> list[str]:
    """The focused element, when it shows no focus ring."""
    focused = p.locator("*:focus")
    return [] if focused.evaluate(RING) else [focused.evaluate("el => el.outerHTML.slice(0, 160)")]


def lap(p: Page) -> tuple[int, list[str]]:
    """One lap of Tab round the page: how many stops, and those that show no focus ring."""
    unringed: list[str] = []
    for stops in range(LAP):
        p.keyboard.press("Tab")
        if p.evaluate(LAPPED):
            return stops, unringed
        unringed += focused_without_ring(p)
    raise AssertionError(f"{LAP} presses of Tab did not come round the page")


def tab_to(p: Page, target: Locator) -> list[str]:
    """Tab (only) until ``target`` has the focus; the stops on the way, and it, that
    show no focus ring."""
    unringed: list[str] = []
    for _ in range(TAB_STOPS):
        p.keyboard.press("Tab")
        unringed += focused_without_ring(p)
        if target.evaluate("el => el === document.activeElement"):
            return unringed
    raise AssertionError(f"{TAB_STOPS} presses of Tab did not reach {target}")


def follow_nav(p: Page, gateway: Gateway, title: str, slug: str) -> list[str]:
    """Tab to the navigation's link ``title``, press Enter, arrive on its page."""
    unringed = tab_to(p, p.locator("nav").get_by_role("link", name=title, exact=True))
    p.keyboard.press("Enter")
    p.wait_for_url(f"{gateway.base_url}/console/{slug}")
    expect(p.locator("h1")).to_contain_text(title)
    return unringed


def unnamed_controls(p: Page) -> list[str]:
    names: list[str] = p.evaluate(UNNAMED)
    return names


def landmarks(p: Page) -> tuple[int, int]:
    return p.locator("main").count(), p.locator("h1").count()


def test_a_keyboard_user_signs_in_and_approves_a_colleagues_action(
    gateway: Gateway, sso: OidcProvider, receiver: Hooks, page: Page
) -> None:
    """Typing, Tab and Enter on the console's pages (the IdP's own forms are filled)."""
    approvers_and_webhook(gateway, sso, receiver)
    proposed = propose(gateway, "ana@acme.test")
    p = page
    violations = csp_violations(p, gateway.base_url)
    p.goto(f"{gateway.base_url}/console")
    expect(p.locator("#tenant")).to_be_focused()  # the organisation field has the focus
    p.keyboard.type("acme")
    p.keyboard.press("Enter")
    at_oidc_provider(p, gateway, "alice")

    assert [each.title for each in pages_of("approver")] == ["Approvals", "Keys and sessions"]
    unringed = follow_nav(p, gateway, "Keys and sessions", "keys")
    unringed += follow_nav(p, gateway, "Approvals", "approvals")
    assert unnamed_controls(p) == [] and landmarks(p) == (1, 1)
    request = p.locator("article.approval")
    assert "call_webhook requested by ana@acme.test" in request.inner_text()
    unringed += tab_to(p, request.get_by_role("button", name="Approve", exact=True))
    assert unringed == []  # every stop on the way, the nav links and buttons among them
    p.keyboard.press("Enter")
    decision = p.locator(f"#decide-{proposed['id']}")
    expect(decision.locator("[data-code=succeeded]")).to_be_visible()
    expect(decision).to_contain_text("it ran")
    # The answer takes the focus (htmx focuses [autofocus] in what it swaps in): the
    # keyboard user is not dropped back to the top of the page.
    expect(decision.locator("[data-code=succeeded]")).to_be_focused()
    [event] = receiver.paths("/ops")
    assert event["event"] == "deploy.requested"
    assert violations == []


def test_every_admin_page_names_its_controls_shows_focus_and_fits_the_screen(
    gateway: Gateway, sso: OidcProvider, page: Page
) -> None:
    """Labels, one main and one h1 on the sign-in page and each admin page, a focus
    ring on every Tab stop; no sideways scrolling at 1280x800 and 1920x1080."""
    client = gateway.openai()
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    gateway.identity.create_key("acme", "ana@acme.test", datetime.now(UTC), name="ana's laptop")
    p = page
    violations = csp_violations(p, gateway.base_url)
    p.goto(f"{gateway.base_url}/console/login")
    unnamed = {"login": unnamed_controls(p)}
    shape = {"login": landmarks(p)}
    sign_in(p, gateway, "alice")
    pages = pages_of("admin")
    assert {each.slug for each in pages} >= {"overview", "audit", "keys", "policy", "posture"}
    too_wide: list[str] = []
    unringed: dict[str, list[str]] = {}
    for size in WIDTHS:
        p.set_viewport_size(size)
        for shown in pages:
            p.goto(f"{gateway.base_url}{shown.path}", wait_until="networkidle")  # htmx loads
            unnamed[shown.slug] = unnamed_controls(p)
            shape[shown.slug] = landmarks(p)
            if size == WIDTHS[0]:
                if shown.slug in UNSHOT:  # the other pages' tests take theirs
                    p.screenshot(path=str(SHOTS / f"{shown.slug}.png"), full_page=True)
                stops, unringed[shown.slug] = lap(p)
                assert stops > len(pages) + 1  # the skip link, the navigation, sign out, …
            width = p.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1]:
                too_wide.append(f"{shown.slug} at {size['width']}: {width[0]}px wide")
    assert {slug: names for slug, names in unnamed.items() if names} == {}
    assert {slug: n for slug, n in shape.items() if n != (1, 1)} == {}
    assert too_wide == []
    assert {slug: stops for slug, stops in unringed.items() if stops} == {}
    assert violations == []
