"""Prefixed provider tokens: formats that start with a fixed literal.

These run on the anchored engine of :mod:`bastion.scanners.secrets` (see
:class:`~bastion.scanners._secret_rules.SecretSpec`): a clean prompt costs one
substring search per needle. Several formats are adapted from the rules of Nosey Parker
(https://github.com/praetorian-inc/noseyparker, ``crates/noseyparker/data/default/
builtin/rules``), Copyright Praetorian, Inc., licensed under the Apache License 2.0;
the regexes were rewritten for Python's ``re`` and bounded.
"""

from __future__ import annotations

import re

from bastion.scanners._secret_rules import SecretSpec

__all__ = ["VENDOR_SPECS"]

_B62 = "A-Za-z0-9"
_URL = "A-Za-z0-9_\\-"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NOT_URL = rf"(?![{_URL}])"
_CRYPT = "./A-Za-z0-9"


def _simple(
    kind: str, prefix: str, body: str, *, gate: str = "", classes: int = 2, left: str = "_"
) -> SecretSpec:
    """A literal prefix (also the needle) then the random ``body``."""
    pattern = re.escape(prefix) + f"(?P<body>{body})"
    return SecretSpec(kind, pattern, (prefix,), classes=classes, left=left, gate=gate)


VENDOR_SPECS: tuple[SecretSpec, ...] = (
    _simple("adafruit_io_key", "aio_", rf"[{_B62}]{{28}}\b", gate="_"),
    _simple("adobe_client_secret", "p8e-", rf"[A-Za-z0-9\-]{{32}}{_NOT_URL}", gate="-"),
    _simple("age_secret_key", "AGE-SECRET-KEY-1", r"[0-9A-Z]{58}\b", classes=1),
    _simple("aws_appsync_key", "da2-", r"[a-z0-9]{26}\b", gate="-"),
    _simple("amazon_mws_token", "amzn.mws.", _UUID, classes=0),
    _simple("atlassian_token", "ATATT3xFfGF0", rf"[{_URL}]{{20,200}}=[0-9A-F]{{8}}\b"),
    _simple("bitbucket_app_password", "ATBB", rf"[{_B62}]{{32}}\b"),
    _simple("cratesio_token", "cio", rf"[{_B62}]{{32}}\b", classes=3),
    _simple("dependency_track_key", "odt_", rf"[{_B62}]{{32,255}}\b", gate="_"),
    SecretSpec(
        "digitalocean_token",
        r"do[opr]_v1_(?P<body>[a-f0-9]{64})\b",
        ("doo_v1_", "dop_v1_", "dor_v1_"),
        gate="_",
        classes=1,
    ),
    _simple("dockerhub_token", "dckr_pat_", rf"[{_URL}]{{27}}{_NOT_URL}", gate="_"),
    SecretSpec(
        "doppler_token",
        rf"dp\.(?:ct|pt|sa|scim|audit|st)\.(?:[a-z0-9\-_]{{2,35}}\.)?(?P<body>[{_B62}]{{40,44}})\b",
        ("dp.",),
        gate=".",
    ),
    _simple("dropbox_token", "sl.", rf"[{_URL}]{{130,152}}{_NOT_URL}", gate="."),
    SecretSpec(
        "dynatrace_token",
        r"dt0[a-zA-Z][0-9]{2}\.(?P<body>[A-Z0-9]{24}\.[A-Z0-9]{64})\b",
        ("dt0",),
        gate=".",
        classes=1,
    ),
    _simple("facebook_access_token", "EAACEdEose0cBA", rf"[{_B62}]{{16,400}}\b"),
    _simple("firecrawl_key", "fc-", r"[a-f0-9]{32}\b", gate="-", classes=1),
    _simple("gitlab_token", "GR1348941", rf"[{_URL}]{{20}}{_NOT_URL}"),
    _simple("gitlab_token", "glptt-", r"[0-9a-f]{40}\b", gate="-", classes=1),
    _simple("google_oauth_secret", "GOCSPX-", rf"[{_URL}]{{28}}{_NOT_URL}", gate="-"),
    _simple("google_oauth_token", "ya29.", rf"[{_URL}]{{20,1024}}{_NOT_URL}", gate="."),
    _simple("grafana_token", "eyJrIjoi", rf"[{_B62}]{{60,100}}\b", left="_"),
    _simple("grafana_token", "glsa_", rf"[{_B62}]{{32}}_[a-fA-F0-9]{{8}}\b", gate="_"),
    _simple("groq_api_key", "gsk_", rf"[{_B62}]{{50,54}}\b", gate="_"),
    SecretSpec(
        "vault_token",
        rf"hv[sbr]\.(?:AAAAAQ)?(?P<body>[{_URL}]{{24,500}}){_NOT_URL}",
        ("hv",),
    ),
    _simple("jina_api_key", "jina_", rf"[{_B62}]{{60}}\b", gate="_"),
    SecretSpec(
        "newrelic_key",
        r"(?i:nr(?:ak|aa|ii|iq|ra))-(?P<body>[A-Za-z0-9_\-]{27,42})(?![A-Za-z0-9_\-])",
        ("NR", "nr"),
        gate="-",
        classes=1,
        min_distinct=8,
    ),
    SecretSpec(
        "newrelic_key",
        rf"px-(?:api|dep)-(?P<body>{_UUID})\b",
        ("px-",),
        gate="-",
        classes=0,
    ),
    _simple("nuget_api_key", "oy2", r"[a-z0-9]{43}\b"),
    _simple("postman_api_key", "PMAK-", rf"[{_B62}]{{24}}-[{_B62}]{{34}}\b", gate="-"),
    _simple("pypi_token", "pypi-AgEIcHlwaS5vcmc", rf"[{_URL}]{{50,500}}{_NOT_URL}", gate="-"),
    _simple("rubygems_api_key", "rubygems_", r"[a-f0-9]{48}\b", gate="_", classes=1),
    _simple("segment_token", "sgp_", rf"[{_B62}]{{64}}\b", gate="_"),
    SecretSpec(
        "sourcegraph_token",
        r"sgp_(?:[a-fA-F0-9]{16}_|local_)?(?P<body>[a-fA-F0-9]{40})\b",
        ("sgp_",),
        gate="_",
        classes=1,
    ),
    SecretSpec(
        "square_token",
        rf"sq0(?:atp-|csp-(?=[{_URL}]{{43}}))(?P<body>[{_URL}]{{22}}(?:[{_URL}]{{21}})?){_NOT_URL}",
        ("sq0",),
        gate="-",
    ),
    _simple("stackhawk_api_key", "hawk.", rf"[{_URL}]{{20}}\.[{_URL}]{{20}}\b", gate="."),
    _simple("tavily_api_key", "tvly-", rf"[{_B62}]{{32}}\b", gate="-"),
    _simple(
        "teamcity_token", "eyJ0eXAiOiAiVENWMiJ9.", rf"[{_URL}]{{36}}\.[{_URL}]{{48}}{_NOT_URL}"
    ),
    _simple(
        "slack_token",
        "xapp-",
        r"(?:[0-9]-[A-Z0-9]{9,12}-[0-9]{12,14}-[a-f0-9]{40,64}|[0-9]{12}-[a-zA-Z0-9/+]{24})\b",
        gate="-",
    ),
    SecretSpec(
        "twitch_stream_key",
        rf"live_(?P<body>\d{{8,12}}_[{_B62}]{{30,36}})\b",
        ("live_",),
        gate="_",
    ),
    SecretSpec(
        "msteams_webhook",
        rf"(?i:https://[a-z0-9.\-]{{0,60}}\.(?:office|webhook\.office)\.com/webhook[b2]?/)"
        rf"(?P<body>{_UUID}@{_UUID}/IncomingWebhook/[a-f0-9]{{32}}/{_UUID})",
        ("https://",),
        gate="@",
        classes=0,
        left=None,
    ),
    SecretSpec(
        "wireguard_key",
        r"(?:PrivateKey|PresharedKey)\s{0,5}=\s{0,5}(?P<body>[A-Za-z0-9+/]{43}=)",
        ("PrivateKey", "PresharedKey"),
        gate="=",
        min_distinct=10,
        body_span=True,
    ),
    # Password hashes (crypt formats, Kerberos AS-REP): offline-crackable credentials.
    SecretSpec(
        "password_hash",
        rf"\$(?:1\$[{_CRYPT}]{{8}}\$[{_CRYPT}]{{22}}|2[abxy]\$\d{{1,2}}\$[{_CRYPT}]{{53}}"
        rf"|[56](?:\$rounds=\d{{1,9}})?\$[{_CRYPT}]{{8,16}}\$(?P<body>[{_CRYPT}]{{43}}"
        rf"(?:[{_CRYPT}]{{43}})?)|8\$[{_CRYPT}]{{8,16}}\$[{_CRYPT}]{{43}})",
        ("$1$", "$2a$", "$2b$", "$2x$", "$2y$", "$5$", "$6$", "$8$"),
        gate="$",
        classes=0,
        min_distinct=0,
        left=None,
    ),
    SecretSpec(
        "password_hash",
        r"\$krb5asrep\$23\$(?:[^:$\s]{1,200}:)?[0-9a-f]{32}\$(?P<body>[0-9a-f]{64,8192})\b",
        ("$krb5asrep$",),
        gate="$",
        classes=1,
        left=None,
    ),
)
