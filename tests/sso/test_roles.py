"""Group-to-role mapping (protocol-neutral) and the ``[sso.oidc]`` parser and presets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.authz import ROLES
from bastion.sso import SsoIdentity
from bastion.sso.oidc_config import GITHUB, parse_oidc_config
from bastion.sso.roles import PRECEDENCE, map_role, validate_role_mapping


def person(*groups: str) -> SsoIdentity:
    return SsoIdentity("oidc", "sub-1", "a@example.com", datetime.now(UTC), groups=groups)


MAPPING = {"eng": "member", "sec": "security_analyst", "admins": "admin", "audit": "auditor"}


# --- roles --------------------------------------------------------------------------


def test_precedence_covers_exactly_the_known_roles() -> None:
    """Every role of bastion.authz has a rank, and nothing else does."""
    assert sorted(PRECEDENCE) == sorted(ROLES)


@pytest.mark.parametrize(
    ("groups", "default", "expected"),
    [
        (("eng",), None, "member"),
        (("eng", "admins"), None, "admin"),
        (("admins", "eng"), None, "admin"),
        (("sec", "eng"), None, "security_analyst"),
        (("audit",), None, "security_analyst"),  # an alias reads as its successor
        (("nobody",), None, None),  # deny by default
        ((), None, None),
        (("nobody",), "viewer", "viewer"),
        (("eng",), "admin", "member"),  # a mapped group beats the default
        (("ENG",), None, None),  # exact, case-sensitive names
        (("eng ",), None, None),
    ],
)
def test_map_role(groups: tuple[str, ...], default: str | None, expected: str | None) -> None:
    """The most privileged mapped role, else the default, else nothing."""
    assert map_role(person(*groups), MAPPING, default) == expected


def test_order_of_groups_never_matters() -> None:
    """Reordering the IdP's group list cannot change the role."""
    groups = ("eng", "sec", "admins", "other")
    results = {map_role(person(*p), MAPPING, None) for p in itertools.permutations(groups)}
    assert results == {"admin"}


def test_unknown_roles_grant_nothing() -> None:
    """A mapping or default naming no known role (unvalidated input) denies."""
    assert map_role(person("x"), {"x": "superuser"}, None) is None
    assert map_role(person("y"), {}, "root") is None


def test_validate_role_mapping() -> None:
    """Known roles are canonicalised; an unknown one is named in the error."""
    assert validate_role_mapping({"a": "auditor"}, where="sso.saml") == {"a": "security_analyst"}
    with pytest.raises(ValueError, match=r"sso\.saml\.role_mapping: unknown role 'god'"):
        validate_role_mapping({"a": "god"}, where="sso.saml")


# --- [sso.oidc] ---------------------------------------------------------------------

BASE = {"issuer": "https://login.example.com", "client_id": "bastion", "client_secret_name": "okta"}


def test_minimal_config_defaults_deny() -> None:
    """Defaults: standard scopes, no bearer tokens, no default role, no JIT."""
    config = parse_oidc_config(BASE)
    assert config.scopes == ("openid", "email", "profile")
    assert (config.api_audience, config.default_role, config.jit) == (None, None, False)
    assert (config.groups_claim, config.email_claim, config.idp) == ("groups", "email", "oidc")
    assert config.token_auth_method == "client_secret_basic"


def test_full_config() -> None:
    config = parse_oidc_config(
        BASE
        | {
            "scopes": ["openid", "email", "groups"],
            "api_audience": "https://bastion.example.com/api",
            "groups_claim": "roles",
            "role_mapping": {"Eng": "member", "Ops": "auditor"},
            "default_role": "viewer",
            "jit": True,
            "allowed_domains": ["Example.com"],
            "max_age_minutes": 480,
        }
    )
    assert dict(config.role_mapping) == {"Eng": "member", "Ops": "security_analyst"}
    assert config.allowed_domains == ("example.com",)
    assert config.email_allowed("x@example.com") and config.email_allowed("x@EXAMPLE.com")
    assert not config.email_allowed("x@sub.example.com")
    assert not config.email_allowed("not-an-email")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"issuer": "http://login.example.com"}, "issuer"),
        ({"issuer": "http://127.0.0.1:8080"}, "allow_insecure_loopback"),
        ({"issuer": "https://u:p@login.example.com"}, "issuer"),
        ({"issuer": "login.example.com"}, "issuer"),
        ({"client_id": ""}, "client_id"),
        ({"client_id": 7}, "client_id"),
        ({"scopes": ["email"]}, "scopes"),
        ({"scopes": "openid email"}, "scopes"),
        ({"preset": "okta"}, "preset"),
        ({"api_audience": "bastion"}, "api_audience"),
        ({"role_mapping": {"eng": "superuser"}}, "role_mapping"),
        ({"role_mapping": ["eng"]}, "role_mapping"),
        ({"default_role": "root"}, "sso.oidc"),
        ({"jit": "yes"}, "jit"),
        ({"max_age_minutes": 0}, "max_age_minutes"),
        ({"max_age_minutes": True}, "max_age_minutes"),
        ({"token_auth_method": "none"}, "token_auth_method"),
        ({"token_endpoint": "https://x.example.com/token"}, "token_endpoint"),
    ],
)
def test_bad_values_name_the_key(change: dict[str, Any], key: str) -> None:
    """Each bad key or value is a ValueError naming the key."""
    table = {k: v for k, v in BASE.items() if k not in change} | change
    with pytest.raises(ValueError, match=key):
        parse_oidc_config(table)


def test_missing_required_keys() -> None:
    for key in BASE:
        with pytest.raises(ValueError, match=key):
            parse_oidc_config({k: v for k, v in BASE.items() if k != key})


def test_a_client_secret_in_the_policy_is_refused_without_echoing_it() -> None:
    """The secret belongs in the secret store; the error explains and never shows it."""
    with pytest.raises(ValueError, match="client_secret_name") as caught:
        parse_oidc_config(BASE | {"client_secret": "hunter2-very-secret"})
    assert "hunter2" not in str(caught.value)


def test_loopback_http_only_when_asked() -> None:
    config = parse_oidc_config(
        BASE | {"issuer": "http://127.0.0.1:8080", "allow_insecure_loopback": True}
    )
    assert config.issuer == "http://127.0.0.1:8080"
    with pytest.raises(ValueError, match="https"):
        parse_oidc_config(
            BASE | {"issuer": "http://idp.example.com", "allow_insecure_loopback": True}
        )


def test_gitlab_preset() -> None:
    """GitLab: OIDC with gitlab.com's issuer, overridable for self-hosted."""
    table = {"preset": "gitlab", "client_id": "app", "client_secret_name": "gitlab"}
    config = parse_oidc_config(table)
    assert (config.issuer, config.idp, config.groups_claim) == (
        "https://gitlab.com",
        "gitlab",
        "groups",
    )
    assert "openid" in config.scopes
    own = parse_oidc_config(table | {"issuer": "https://git.example.com"})
    assert own.issuer == "https://git.example.com"


def test_github_preset() -> None:
    """GitHub: OAuth endpoints and scopes filled in, overridable for GHE; no issuer or
    bearer tokens (GitHub's tokens are opaque); secrets sent in the form."""
    table = {"preset": "github", "client_id": "Iv1.x", "client_secret_name": "github"}
    config = parse_oidc_config(table)
    assert config.issuer is None and config.idp == "github"
    assert config.authorization_endpoint == GITHUB["authorization_endpoint"]
    assert config.token_endpoint == GITHUB["token_endpoint"]
    assert config.api_url == "https://api.github.com"
    assert "read:org" in config.scopes
    assert config.token_auth_method == "client_secret_post"
    ghe = parse_oidc_config(table | {"api_url": "https://ghe.example.com/api/v3"})
    assert ghe.api_url == "https://ghe.example.com/api/v3"
    for bad in ({"issuer": "https://github.com"}, {"api_audience": "https://api"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            parse_oidc_config(table | bad)
