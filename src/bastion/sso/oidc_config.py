"""A tenant's OIDC or OAuth sign-in settings: the policy's ``[sso.oidc]`` table.

::

    [sso.oidc]
    issuer = "https://login.example.com"    # discovery: <issuer>/.well-known/...
    client_id = "bastion"
    client_secret_name = "okta"              # `bastion secrets set okta`; never the secret
    scopes = ["openid", "email", "profile"]  # the default
    api_audience = "https://bastion.example.com/api"  # accept IdP bearer tokens (optional)
    groups_claim = "groups"
    role_mapping = { "eng-admins" = "admin", "eng" = "member" }
    default_role = "viewer"                  # absent: no mapped group, no access
    jit = true                               # create unknown users at first sign-in
    allowed_domains = ["example.com"]
    max_age_minutes = 480                    # re-authenticate at the IdP after 8 hours
    attributes = { region = "region" }       # user attribute -> claim (bastion.sso.attributes)

``preset = "gitlab"`` fills the issuer (``https://gitlab.com``; set ``issuer`` for a
self-hosted GitLab). ``preset = "github"`` is plain OAuth 2.0 (GitHub has no ID token):
``authorization_endpoint``, ``token_endpoint`` and ``api_url`` default to github.com's
and can be set for GitHub Enterprise Server. Every URL must be https, except loopback
http when ``allow_insecure_loopback = true`` (tests and local development only).

Errors are ValueErrors that name the key (``sso.oidc.<key>``) and never echo a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from bastion.sso.attributes import validate_attribute_mapping
from bastion.sso.roles import validate_role, validate_role_mapping

__all__ = ["GITHUB", "GITLAB", "OidcConfig", "Preset", "parse_oidc_config"]

Preset = Literal["github", "gitlab"]
TokenAuthMethod = Literal["client_secret_basic", "client_secret_post"]

GITLAB = MappingProxyType(
    {"issuer": "https://gitlab.com", "scopes": ("openid", "email", "profile")}
)
GITHUB = MappingProxyType(
    {
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "api_url": "https://api.github.com",
        # read:org lists the person's teams (groups); user:email their verified emails.
        "scopes": ("read:user", "user:email", "read:org"),
    }
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "client_secret_name",
        "scopes",
        "preset",
        "authorization_endpoint",
        "token_endpoint",
        "api_url",
        "token_auth_method",
        "api_audience",
        "groups_claim",
        "email_claim",
        "role_mapping",
        "default_role",
        "jit",
        "allowed_domains",
        "max_age_minutes",
        "allow_insecure_loopback",
        "attributes",
    }
)
_GITHUB_ONLY = ("authorization_endpoint", "token_endpoint", "api_url")


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """Validated ``[sso.oidc]`` settings. ``issuer`` is None only for the GitHub preset;
    ``authorization_endpoint``, ``token_endpoint`` and ``api_url`` are set only for it
    (OIDC endpoints come from discovery). Holds no secret, so its repr is safe."""

    client_id: str
    client_secret_name: str
    issuer: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    preset: Preset | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    api_url: str | None = None
    token_auth_method: TokenAuthMethod = "client_secret_basic"  # noqa: S105 (a method name)
    api_audience: str | None = None
    groups_claim: str = "groups"
    email_claim: str = "email"
    role_mapping: Mapping[str, str] = field(default_factory=dict)
    default_role: str | None = None
    jit: bool = False
    allowed_domains: tuple[str, ...] = ()
    max_age_minutes: int | None = None
    allow_insecure_loopback: bool = False
    attribute_mapping: Mapping[str, str] = field(default_factory=dict)

    @property
    def idp(self) -> str:
        """The provider's name in an :class:`~bastion.sso.SsoIdentity` and the audit."""
        return self.preset or "oidc"

    def email_allowed(self, email: str) -> bool:
        """True when no domain list is set, or ``email``'s domain is on it (exactly;
        subdomains are not included)."""
        if not self.allowed_domains:
            return True
        _, at, domain = email.rpartition("@")
        return bool(at) and domain.lower() in self.allowed_domains


def parse_oidc_config(table: Mapping[str, Any]) -> OidcConfig:
    """Validate the ``[sso.oidc]`` table. Raises ValueError naming the first bad key."""
    unknown = sorted(set(table) - _KEYS)
    if "client_secret" in unknown:
        raise ValueError(
            "sso.oidc.client_secret: the secret must not be in the policy; store it with "
            "`bastion secrets set NAME` and set client_secret_name = NAME"
        )
    if unknown:
        raise ValueError(f"sso.oidc: unknown option {unknown[0]!r:.40}")
    preset = _preset(table.get("preset"))
    defaults: Mapping[str, Any] = {"github": GITHUB, "gitlab": GITLAB}.get(preset or "", {})
    merged = {**defaults, **table}
    insecure = _bool(merged, "allow_insecure_loopback", default=False)

    if preset == "github":
        if "issuer" in table:
            raise ValueError("sso.oidc.issuer: GitHub is OAuth 2.0 without an issuer")
        if "api_audience" in table:
            raise ValueError("sso.oidc.api_audience: GitHub tokens are opaque, not JWTs")
        issuer = None
        endpoints = {key: _url(merged, key, insecure) for key in _GITHUB_ONLY}
    else:
        for key in _GITHUB_ONLY:
            if key in table:
                raise ValueError(f"sso.oidc.{key}: only for preset 'github' (OIDC uses discovery)")
        issuer = _url(merged, "issuer", insecure)
        endpoints = {}

    client_id = _text(merged, "client_id")
    api_audience = _optional_text(merged, "api_audience")
    if api_audience is not None and api_audience == client_id:
        # An ID token (aud = client_id) would then pass as an API access token.
        raise ValueError("sso.oidc.api_audience must differ from client_id")
    scopes = _texts(merged, "scopes", default=("openid", "email", "profile"))
    if preset != "github" and "openid" not in scopes:
        raise ValueError("sso.oidc.scopes must include 'openid'")
    mapping = merged.get("role_mapping", {})
    if not isinstance(mapping, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ValueError("sso.oidc.role_mapping must be a table of group = role")
    default_role = _optional_text(merged, "default_role")
    max_age = merged.get("max_age_minutes")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
        raise ValueError("sso.oidc.max_age_minutes must be a whole number of minutes")
    if max_age is not None and not 1 <= max_age <= 60 * 24 * 30:
        raise ValueError("sso.oidc.max_age_minutes must be between 1 and 43200")
    auth_method = merged.get("token_auth_method", "client_secret_basic")
    if preset == "github" and "token_auth_method" not in table:
        auth_method = "client_secret_post"
    if auth_method not in ("client_secret_basic", "client_secret_post"):
        raise ValueError(
            "sso.oidc.token_auth_method must be 'client_secret_basic' or 'client_secret_post'"
        )

    return OidcConfig(
        client_id=client_id,
        client_secret_name=_text(merged, "client_secret_name"),
        issuer=issuer,
        scopes=scopes,
        preset=preset,
        token_auth_method=auth_method,
        api_audience=api_audience,
        groups_claim=_text(merged, "groups_claim", default="groups"),
        email_claim=_text(merged, "email_claim", default="email"),
        role_mapping=MappingProxyType(validate_role_mapping(mapping, where="sso.oidc")),
        default_role=None if default_role is None else validate_role(default_role, "sso.oidc"),
        jit=_bool(merged, "jit", default=False),
        allowed_domains=tuple(d.lower() for d in _texts(merged, "allowed_domains", default=())),
        max_age_minutes=max_age,
        allow_insecure_loopback=insecure,
        attribute_mapping=MappingProxyType(
            validate_attribute_mapping(merged.get("attributes", {}), where="sso.oidc")
        ),
        **endpoints,
    )


def _preset(value: object) -> Preset | None:
    if value is None:
        return None
    if value == "github":
        return "github"
    if value == "gitlab":
        return "gitlab"
    raise ValueError("sso.oidc.preset must be 'github' or 'gitlab' (or absent)")


def _text(table: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"sso.oidc.{key} must be a non-empty string")
    return value


def _optional_text(table: Mapping[str, Any], key: str) -> str | None:
    return None if table.get(key) is None else _text(table, key)


def _texts(table: Mapping[str, Any], key: str, *, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(key, default)
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v and " " not in v for v in value
    ):
        raise ValueError(f"sso.oidc.{key} must be a list of strings without spaces")
    return tuple(value)


def _bool(table: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"sso.oidc.{key} must be true or false")
    return value


def _url(table: Mapping[str, Any], key: str, insecure_loopback: bool) -> str:
    """An https URL without query or fragment; http only for loopback hosts, and only
    when ``allow_insecure_loopback`` is set."""
    value = _text(table, key)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError(f"sso.oidc.{key} must be a URL") from None
    if not host or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"sso.oidc.{key} must be a URL without credentials, query or fragment")
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        if insecure_loopback:
            return value
        raise ValueError(f"sso.oidc.{key}: http needs allow_insecure_loopback = true (tests only)")
    raise ValueError(f"sso.oidc.{key} must use https")
