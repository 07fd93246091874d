"""The console's pages, each behind a permission: the navigation shows, and the server
serves, only those the caller's role grants (a page appears once its capability does)."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.authz import allowed

__all__ = ["PAGES", "Page", "page_named", "visible_pages"]


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    permission: str

    @property
    def path(self) -> str:
        return f"/console/{self.slug}"


# In navigation order; one line per page module (bastion.console.<slug>_page).
PAGES = (
    Page("overview", "Overview", "audit.read"),
    Page("audit", "Audit log", "audit.read"),
    Page("approvals", "Approvals", "actions.approve"),
    Page("incidents", "Incidents", "incidents.read"),
    Page("keys", "Keys and sessions", "keys.own"),
    Page("sources", "Data sources", "datasources.use"),
    Page("policy", "Policy", "policies.read"),
    Page("posture", "Posture", "audit.verify"),
    Page("threat-model", "Threat model", "audit.verify"),
)


def page_named(slug: str) -> Page:
    return next(page for page in PAGES if page.slug == slug)


def visible_pages(role: str) -> list[Page]:
    return [page for page in PAGES if allowed(role, page.permission)]
