"""Who the identity provider says signed in, after every protocol check passed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["SsoIdentity"]


@dataclass(frozen=True, slots=True)
class SsoIdentity:
    """A verified sign-in. ``subject`` is the IdP's stable id for the person (OIDC
    ``sub``, SAML NameID); ``groups`` are the group or role names the IdP asserted;
    ``attributes`` every other claim or attribute (values as strings). ``idp`` names the
    provider (``oidc``, ``github``, ``gitlab``, ``saml``); ``authenticated_at`` is when
    the person authenticated at the IdP (OIDC ``auth_time``, SAML AuthnInstant), which
    step-up checks. ``not_single`` names the claims that were not one string (an OIDC
    list, number or boolean), which never become user attributes. The repr shows no
    claim values."""

    idp: str
    subject: str
    email: str
    authenticated_at: datetime
    name: str = ""
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    not_single: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"SsoIdentity(idp={self.idp!r}, groups={len(self.groups)})"
