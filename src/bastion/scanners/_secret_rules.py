"""The secret formats :mod:`bastion.scanners.secrets` knows, as immutable specs.

Each spec is a tight regex (a group named ``body`` holds the random part) that
starts with one of its literal ``needles``: the scanner finds needles with
``str.find`` (fast) and only then runs the regex anchored there, so a clean prompt
costs one substring search per needle. A randomness guard on the body keeps
placeholders such as ``sk-xxxx...`` or ``AKIAEXAMPLEEXAMPLE12`` from matching.
Patterns are compiled once per scanner.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIGITS", "PEM_TAIL", "SPECS", "ContextRule", "SecretSpec"]


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """One secret format.

    ``needles`` are the literals a match starts with; ``left`` lists the characters
    (besides letters and digits) that must not precede a needle, or is ``None`` for
    no boundary check; ``classes`` is how many of lower/upper/digit the body needs;
    ``min_distinct`` the number of distinct characters; ``body_span`` reports only
    the ``body`` group (the keyword around it is not secret); ``gate`` is one
    character every match contains, checked first (``memchr`` speed) so prose without
    ``_`` or ``-`` skips most needles; when empty, the scanner uses the rarest
    character all needles share, if any.
    """

    kind: str
    pattern: str
    needles: tuple[str, ...]
    classes: int = 2
    min_distinct: int = 4
    left: str | None = "_"
    gate: str = ""
    body_span: bool = False
    score: float = 1.0


_B62 = "A-Za-z0-9"
_URL = "A-Za-z0-9_\\-"

SPECS: tuple[SecretSpec, ...] = (
    SecretSpec(
        "aws_access_key_id",
        r"(?:AKIA|ASIA|A3T[A-Z0-9])(?P<body>[A-Z0-9]{16})\b",
        ("AKIA", "ASIA", "A3T"),
        classes=1,
        min_distinct=6,
    ),
    SecretSpec(
        "aws_secret_access_key",
        r"(?i:aws)[\w.\- ]{0,30}?(?i:secret)[\w.\- ]{0,20}?[\"']?\s{0,5}(?::=|=>|:|=)\s{0,5}"
        r"[\"']?(?P<body>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        ("aws", "AWS", "Aws"),
        min_distinct=10,
        left=None,
        body_span=True,
        score=0.9,
    ),
    SecretSpec(
        "github_token",
        rf"gh[pousr]_(?P<body>[{_B62}]{{36,251}})\b",
        ("gh",),
        gate="_",
    ),
    SecretSpec(
        "github_token",
        rf"github_pat_(?P<body>[{_B62}]{{22}}_[{_B62}]{{59}})\b",
        ("github_pat_",),
        gate="_",
    ),
    SecretSpec(
        "gitlab_token",
        rf"glpat-(?P<body>[{_URL}]{{20,200}})(?:\.[0-9a-z]{{2}}\.[0-9a-z]{{9}})?(?![{_URL}])",
        ("glpat-",),
        gate="-",
    ),
    SecretSpec(
        "anthropic_api_key",
        rf"sk-ant-[a-z]{{3,8}}\d{{2}}-(?P<body>[{_URL}]{{40,}})(?![{_URL}])",
        ("sk-ant-",),
        gate="-",
        classes=3,
    ),
    SecretSpec(
        "openai_api_key",
        rf"sk-(?!ant-)(?:(?:proj|svcacct|admin)-)?(?P<body>[{_URL}]{{20,}})"
        rf"(?![{_URL}])",
        ("sk-",),
        gate="-",
        classes=3,
        min_distinct=12,
        left="_-",
    ),
    SecretSpec(
        "slack_token",
        rf"xox[abposr]-(?:[0-9]{{6,16}}-){{1,3}}(?P<body>[{_B62}]{{20,40}})\b",
        ("xox",),
        gate="-",
    ),
    SecretSpec(
        "slack_webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/"
        rf"(?P<body>T[A-Z0-9]{{6,12}}/[A-Z0-9]{{6,12}}/[{_B62}]{{20,40}})\b",
        ("hooks.slack.com",),
        gate="/",
    ),
    SecretSpec(
        "stripe_key",
        rf"[rs]k_(?:live|test)_(?P<body>[{_B62}]{{20,247}})\b",
        ("sk_", "rk_"),
        gate="_",
    ),
    SecretSpec(
        "google_api_key",
        rf"AIza(?P<body>[{_URL}]{{35}})(?![{_URL}])",
        ("AIza",),
    ),
    SecretSpec("huggingface_token", rf"hf_(?P<body>[{_B62}]{{34,40}})\b", ("hf_",), gate="_"),
    SecretSpec("npm_token", rf"npm_(?P<body>[{_B62}]{{36}})\b", ("npm_",), gate="_"),
    SecretSpec(
        "sendgrid_api_key",
        rf"SG\.(?P<body>[{_URL}]{{22}}\.[{_URL}]{{43}})(?![{_URL}])",
        ("SG.",),
        gate=".",
    ),
    SecretSpec("twilio_api_key", r"SK(?P<body>[0-9a-f]{32})\b", ("SK",)),
    SecretSpec(
        "azure_storage_key",
        r"(?i:AccountKey|SharedAccessKey)\s{0,3}=\s{0,3}(?P<body>[A-Za-z0-9+/]{30,}={0,2})",
        ("AccountKey", "accountkey", "SharedAccessKey"),
        gate="=",
        min_distinct=10,
        left=None,
        body_span=True,
    ),
    SecretSpec("databricks_token", r"dapi(?P<body>[a-f0-9]{32})(?:-[0-9]{1,2})?\b", ("dapi",)),
    SecretSpec(
        "shopify_token",
        r"shp(?:at|ca|pa|ss)_(?P<body>[a-fA-F0-9]{32})\b",
        ("shp",),
        gate="_",
    ),
    SecretSpec(
        "jwt",
        rf"eyJ[{_URL}]{{5,}}\.eyJ[{_URL}]*(?:\.(?P<body>[{_URL}]*))?",
        ("eyJ",),
        gate=".",
        classes=0,
        min_distinct=0,
        score=0.9,
    ),
    SecretSpec(
        "private_key",
        r"-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----",
        ("-----BEGIN ",),
        gate="-",
        classes=0,
        min_distinct=0,
    ),
    SecretSpec(
        "private_key",
        r"LS0tLS1CRUdJTi(?P<body>[A-Za-z0-9+/]{20,}={0,2})",
        ("LS0tLS1CRUdJTi",),
        classes=0,
        min_distinct=0,
    ),
)

# What may follow a PEM BEGIN line: header lines, then base64 lines (possibly inside
# quoted, concatenated or escaped string literals), then the END line. Without an END
# line the span stops after the last base64 line, so a truncated key is still covered.
_SEP = r"(?:[\s\"',]|\\[rn]|\s\+\s)"
PEM_TAIL = (
    r"(?:\s*[A-Za-z][A-Za-z\-]*:[^\n]*)*"
    rf"(?:{_SEP}+[A-Za-z0-9+/=]{{16,}})*"
    rf"(?:(?:{_SEP}+[A-Za-z0-9+/=]{{1,15}})?{_SEP}*"
    r"-----END [A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----)?"
)


@dataclass(frozen=True, slots=True)
class ContextRule:
    """A secret recognised by the words around it (``password = "..."``, a URL's
    ``user:pass@``, a provider name near a key-shaped value).

    Cheap checks first: the rule is skipped unless one of its ``gates`` characters
    occurs in the text (``str.__contains__`` on one character is a ``memchr``; an
    empty string means no gate; ``DIGITS`` for values that always hold a digit), then
    unless one of its lowercase ``needles`` occurs in the lowercased text. If
    ``anchored``, the regex is matched where each needle occurs (it must start with
    the needle); otherwise it is searched over the text. The ``body`` group (or the
    first matched group named ``body...``) is then checked: ``classes`` of
    lower/upper/digit, ``min_distinct`` characters, Shannon ``entropy`` in bits per
    character, no placeholder (``changeme``, ``<...>``, ``${...}``, ``example``...)
    and, if ``repeats``, no run of five equal characters. The finding covers the body
    only. Regexes are bounded (no nested or unbounded repeats over the same
    characters) so that backtracking stays linear.
    """

    kind: str
    pattern: str
    needles: tuple[str, ...]
    gates: str = ":="
    anchored: bool = True
    classes: int = 0
    min_distinct: int = 0
    entropy: float = 0.0
    repeats: bool = True
    score: float = 0.9


DIGITS = "0123456789"
