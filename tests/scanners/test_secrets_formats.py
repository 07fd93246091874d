"""The secrets scanner's extra formats: provider prefixes, context rules, generic
credentials and identifiers. Every key here is fake: a fixed pseudo-random body built
at import time in the shape of the format (no real or data-set key is stored)."""

from __future__ import annotations

import random
import string

import pytest

from bastion.scanners import Decision, ScanContext, SecretsScanner, Stage
from bastion.scanners.redact import redact

_RNG = random.Random(20260512)
_B62 = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_UPD = string.ascii_uppercase + string.digits
_URL = _B62 + "_-"
_CRYPT = _B62 + "./"


def _fake(n: int, alphabet: str = _B62) -> str:
    """A fixed random-looking body; retried until it holds a digit and a letter."""
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in body) and any(c.isalpha() for c in body):
            return body


def _uuid() -> str:
    h = _fake(32, _HEX)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_PW = "Qv7" + _fake(9) + "x!"

# (expected type, text, the secret part that must be covered)
POSITIVE: list[tuple[str, str, str]] = [
    (kind, before + secret + after, secret)
    for kind, before, secret, after in [
        ("adafruit_io_key", 'IO_KEY "', "aio_" + _fake(28), '"'),
        ("age_secret_key", "", "AGE-SECRET-KEY-1" + _fake(58, _UPD), "\n"),
        ("atlassian_token", "jira: ", "ATATT3xFfGF0" + _fake(60, _URL) + "=1A2B3C4D", ""),
        ("digitalocean_token", "DO_TOKEN=", "dop_v1_" + _fake(64, _HEX), ""),
        ("dockerhub_token", "docker login -p ", "dckr_pat_" + _fake(27, _URL), " -u me"),
        ("doppler_token", "", "dp.st.prd." + _fake(40), ""),
        ("google_oauth_secret", '"', "GOCSPX-" + _fake(28, _URL), '"'),
        ("groq_api_key", "GROQ_API_KEY=", "gsk_" + _fake(52), ""),
        ("vault_token", "VAULT_TOKEN=", "hvs." + _fake(90), ""),
        ("newrelic_key", "key ", "NRAK-" + _fake(27, _UPD), ""),
        ("postman_api_key", "", "PMAK-" + _fake(24) + "-" + _fake(34), ""),
        ("pypi_token", "password = ", "pypi-AgEIcHlwaS5vcmc" + _fake(70, _URL), ""),
        ("sourcegraph_token", "", "sgp_" + _fake(16, _HEX) + "_" + _fake(40, _HEX), ""),
        ("square_token", "", "sq0atp-" + _fake(22, _URL), ""),
        ("telegram_bot_token", "bot", "123456789:AA" + _fake(33, _URL), "/getMe"),
        ("twitch_stream_key", "stream key: ", "live_123456789_" + _fake(32), ""),
        ("password_hash", "admin:", "$2b$12$" + _fake(53, _CRYPT), ":0"),
        ("url_credentials", "DATABASE_URL=postgres://app:", _PW, "@db.internal:5432/app"),
        ("url_credentials", "mongodb+srv://svc:", _PW, "@cluster0.mongodb.net/db"),
        ("url_credentials", "git clone https://deploy:", _PW, "@git.corp.local/x.git"),
        ("connection_string_password", "Server=db;User Id=app;Password=", _PW, ";"),
        (
            "azure_storage_key",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
            _fake(86, _B62 + "+/") + "==",
            ";",
        ),
        (
            "azure_sas_token",
            "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=",
            _fake(43, _B62 + "+/") + "=",
            "",
        ),
        ("heroku_api_key", "HEROKU_API_KEY=", _uuid(), ""),
        ("password", 'db_password = "', _PW, '"'),
        ("password", "The default password is '", _PW, "'."),
        ("http_basic_auth", "Authorization: Basic ", _fake(28, _B62 + "+/") + "=", ""),
        ("generic_secret", 'API_KEY = "', _fake(32), '"'),
        ("generic_secret", '{"client_secret": "', _fake(40), '"}'),
        ("generic_secret", "auth_token: ", _fake(24), "\n"),
        ("wireguard_key", "PrivateKey = ", _fake(43, _B62 + "+/") + "=", ""),
    ]
]

NEAR_MISSES: list[str] = [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "password=changeme",
    'DB_PASSWORD="${DB_PASSWORD}"',
    "password: <your-password>",
    "postgres://user:@localhost:5432/db",
    "postgres://user:${PGPASSWORD}@localhost/db",
    "ssh://git@github.com/org/repo.git",
    "https://example.org:8443/docs?page=2",
    "token: abc123",
    'api_key = "123e4567-e89b-42d3-a456-426614174000"',
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixes the login form",
    "git_sha = 3f786850e387550fdab836ed7e6dc881de23001b",
    'API_KEY = os.environ["API_KEY"]',
    "secret_key = settings.SECRET_KEY",
    'api_key: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'SECRET = "your_secret_key_here_123"',
    'token = "{{ vault_token_value_01 }}"',
    'author = "Jane Doe, 2019"',
    "The key to a good password policy: 16 characters, rotated every 90 days.",
    "token_type = bearer_access_token_v2",
    'auth_token = "abcdef0123456789ghij"',
    "sk_live_0000000000000000000000000",
]

IDENTIFIERS: list[tuple[str, str]] = [
    ("aws_arn", "role: arn:aws:iam::210987654321:role/deploy-" + _fake(6)),
    ("cloud_bucket", "see https://logs-" + _fake(6).lower() + ".s3.amazonaws.com/x"),
    ("shopify_domain", "shop: acme-" + _fake(5).lower() + ".myshopify.com"),
]


@pytest.mark.parametrize(("kind", "text", "secret"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_formats_are_found_with_their_type(kind: str, text: str, secret: str) -> None:
    """Each fake key is found, the finding's type names its format and covers it."""
    start = text.index(secret)
    findings = SecretsScanner().find(text)
    assert any(
        f.type == kind and f.start <= start and f.end >= start + len(secret) for f in findings
    ), [f.type for f in findings]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_placeholders_and_look_alikes_are_not_secrets(text: str) -> None:
    """Documentation placeholders, references, UUIDs, git SHAs and prose find nothing."""
    assert SecretsScanner().find(text) == ()


@pytest.mark.parametrize(("kind", "text"), IDENTIFIERS, ids=[i[0] for i in IDENTIFIERS])
def test_identifiers_are_recorded_but_not_acted_on_by_default(kind: str, text: str) -> None:
    """Cloud identifiers are found by default and recorded with an ALLOW; ``act``
    treats them as secrets, ``off`` does not look for them."""
    inbound = ScanContext(stage=Stage.INPUT)
    recorded = SecretsScanner().scan(text, inbound)
    assert (recorded.decision, recorded.reason) == (Decision.ALLOW, "resource_identifier")
    assert kind in {f.type for f in recorded.findings}
    assert SecretsScanner({"identifiers": "act"}).scan(text, inbound).decision is Decision.BLOCK
    assert SecretsScanner({"identifiers": True}).scan(text, inbound).decision is Decision.BLOCK
    assert SecretsScanner({"identifiers": "off"}).find(text) == ()
    assert SecretsScanner({"identifiers": False}).find(text) == ()


def test_a_secret_beside_an_identifier_is_acted_on_alone() -> None:
    """With identifiers recorded, a text holding both redacts the secret only."""
    kind, text, secret = POSITIVE[0]
    _, identifier_text = IDENTIFIERS[0]
    both = f"{text}\n{identifier_text}"
    result = SecretsScanner().scan(both, ScanContext(stage=Stage.OUTPUT))
    assert result.decision is Decision.REDACT
    assert {f.type for f in result.findings} == {kind}
    assert secret not in redact(both, result.findings)
    assert identifier_text in redact(both, result.findings)


def test_results_and_errors_hold_no_secret() -> None:
    """Findings, results and reprs carry spans and types, never the secret."""
    for kind, text, secret in POSITIVE:
        result = SecretsScanner().scan(text, ScanContext(stage=Stage.INPUT))
        assert secret not in repr(result), kind
    with pytest.raises(ValueError, match="identifiers") as info:
        SecretsScanner({"identifiers": _PW})
    assert _PW not in str(info.value)
    assert repr(SecretsScanner({"identifiers": True})).endswith("identifiers='act')")
    assert repr(SecretsScanner()).endswith("identifiers='record')")


@pytest.mark.parametrize(
    "text",
    [
        "password=" + "a" * 20_000,
        "api_key: " + "Ab1" * 7_000,
        "postgres://" + "u:" * 10_000 + "@",
        "secret " * 3_000,
        ("token=" + "x" * 15 + " ") * 1_000,
        "user=" + "a;" * 10_000,
        "AKIA" + "A" * 16 + " " * 5_000,
    ],
    ids=["long-value", "long-b62", "url-colons", "keywords", "many-short", "semicolons", "akia"],
)
def test_adversarial_inputs_finish(text: str) -> None:
    """Bounded regexes: pathological inputs of ~20 KB finish (catastrophic backtracking
    would take hours; speed itself is bench/secrets_latency.py's)."""
    assert SecretsScanner({"identifiers": True}).find(text) is not None
