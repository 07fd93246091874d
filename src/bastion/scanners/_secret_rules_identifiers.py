"""Cloud resource identifiers: not secrets, but they map an organisation's estate.

Off by default (option ``identifiers`` of the ``secrets`` scanner): AWS ARNs and
account IDs, S3 and GCS bucket URLs, OAuth client IDs, Shopify shop domains, age
recipients and usernames in React app settings. Nosey Parker reports these as
``identifier`` findings; the shapes are adapted from its rules
(https://github.com/praetorian-inc/noseyparker, Copyright Praetorian, Inc., Apache
License 2.0), rewritten for Python's ``re`` and bounded.
"""

from __future__ import annotations

from bastion.scanners._secret_rules import DIGITS, ContextRule

__all__ = ["IDENTIFIER_RULES"]

_LABEL = r"[a-zA-Z0-9_\-]{1,63}"
_HOST_START = r"(?:^|(?<=[\s/\"'])|(?<=%2F))"

IDENTIFIER_RULES: tuple[ContextRule, ...] = (
    ContextRule(
        "aws_arn",
        r"\b(?P<body>arn:aws(?:-cn|-us-gov)?:[a-zA-Z0-9_\-]{2,40}:(?:[a-z]{2}(?:-gov)?-[a-z]{2,10}-\d)?:"
        r"(?:\d{12})?:[^\s\"'&<>\\%]{1,300})",
        ("arn:aws",),
        gates=":",
        score=0.5,
    ),
    ContextRule(
        "aws_account_id",
        r"(?i)\baws_?account_?(?:id)?[\"'`]?\s{0,30}(?::|=>|=)\s{0,30}[\"'`]?"
        r"(?P<body>\d{4}-?\d{4}-?\d{4})\b",
        ("aws",),
        gates=":=",
        score=0.5,
    ),
    ContextRule(
        "cloud_bucket",
        _HOST_START
        + rf"(?P<body>(?:{_LABEL}\.){{1,10}}(?:s3(?:[.\-][a-z0-9\-]{{1,20}})?\.amazonaws\.com"
        r"|storage\.googleapis\.com))\b",
        ("amazonaws.com", "storage.googleapis.com"),
        gates=".",
        anchored=False,
        score=0.5,
    ),
    ContextRule(
        "cloud_bucket",
        _HOST_START
        + r"(?P<body>(?:s3(?:[.\-][a-z0-9\-]{1,20})?\.amazonaws\.com|storage\.googleapis\.com)"
        rf"/[a-zA-Z0-9_][a-zA-Z0-9_\-]{{0,62}}(?:\.{_LABEL}){{0,10}})(?![a-zA-Z0-9_\-])",
        ("amazonaws.com", "storage.googleapis.com"),
        gates="/",
        anchored=False,
        score=0.5,
    ),
    ContextRule(
        "oauth_client_id",
        r"(?i)\b(?P<body>[0-9]{1,20}-[a-z0-9_]{32}\.apps\.googleusercontent\.com)",
        ("apps.googleusercontent.com",),
        gates=".",
        anchored=False,
        score=0.5,
    ),
    ContextRule(
        "oauth_client_id",
        r"(?i)\b(?:github|linkedin|twitter).?(?:api|app|application|client|consumer|customer)?.?"
        r"(?:id|identifier|key).{0,2}\s{0,20}.{0,2}\s{0,20}.{0,2}\b(?P<body>[a-z0-9]{12,25})\b",
        ("github", "linkedin", "twitter"),
        gates=DIGITS,
        classes=2,
        min_distinct=8,
        score=0.5,
    ),
    ContextRule(
        "shopify_domain",
        r"\b(?P<body>(?:[a-zA-Z0-9\-]{1,63}\.){0,5}[a-zA-Z0-9\-]{1,63}\.myshopify\.com)\b",
        (".myshopify.com",),
        gates=".",
        anchored=False,
        score=0.5,
    ),
    ContextRule(
        "age_recipient", r"\b(?P<body>age1[0-9a-z]{58})\b", ("age1",), gates=DIGITS, score=0.5
    ),
    ContextRule(
        "username",
        r"(?i)\bREACT_APP(?:_[A-Z0-9]{1,30}){0,5}_USER(?:NAME)?\s{0,5}=\s{0,5}['\"]?"
        r"(?P<body>[^\s'\"$]{3,200})",
        ("react_app",),
        gates="=",
        score=0.5,
    ),
)
