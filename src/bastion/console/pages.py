"""The console's pages, each behind a permission: the navigation shows, and the server
serves, only those the caller's role grants, and only where the gateway has the
capability the page shows (``needs``: agent actions and data sources need a keyring)."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.authz import allowed

__all__ = ["CAPABILITIES", "PAGES", "Page", "page_named", "visible_pages"]

# What a gateway may lack; see ConsoleKit.capabilities.
CAPABILITIES = ("actions", "data_sources")


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    permission: str
    needs: str = ""  # one of CAPABILITIES, or "" when every gateway has it

    @property
    def path(self) -> str:
        return f"/console/{self.slug}"


# In navigation order; one line per page module (bastion.console.<slug>_page).
PAGES = (
    Page("overview", "Overview", "audit.read"),
    Page("audit", "Audit log", "audit.read"),
    Page("approvals", "Approvals", "actions.approve", needs="actions"),
    Page("incidents", "Incidents", "incidents.read"),
    Page("keys", "Keys and sessions", "keys.own"),
    Page("sources", "Data sources", "datasources.use", needs="data_sources"),
    Page("policy", "Policy", "policies.read"),
    Page("posture", "Posture", "audit.verify"),
    Page("threat-model", "Threat model", "audit.verify"),
)


def page_named(slug: str) -> Page:
    return next(page for page in PAGES if page.slug == slug)


def visible_pages(role: str, capabilities: frozenset[str]) -> list[Page]:
    """The pages ``role`` may see on a gateway with ``capabilities``."""
    return [
        page
        for page in PAGES
        if allowed(role, page.permission) and (not page.needs or page.needs in capabilities)
    ]
