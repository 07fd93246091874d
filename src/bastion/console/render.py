"""Rendering console pages: autoescaped Jinja2 templates shipped in the package, and
the headers every console page carries."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

__all__ = ["CSP", "Renderer"]

# No inline script or style anywhere: htmx and the stylesheet come from /console/static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Renderer:
    """One template environment per gateway (templates compiled once, then cached)."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("bastion.console", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def __repr__(self) -> str:
        return "Renderer()"

    def page(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        body = self._env.get_template(name).render(**context)
        return HTMLResponse(body, status_code=status, headers={"content-security-policy": CSP})
