"""Single sign-on: OIDC and OAuth (``oidc``), SAML 2.0 (``saml``), both ending in an
:class:`SsoIdentity` that the gateway maps to a role and a server-side session."""

from bastion.sso.identity import SsoIdentity

__all__ = ["SsoIdentity"]
