"""Provider keys recognised by a provider name or a field name near the value.

Many provider keys have no prefix of their own (hex strings, UUIDs, base64): they are
only secrets when the provider or a credential field is named nearby. These rules run
on the context engine (:class:`~bastion.scanners._secret_rules.ContextRule`). Several
are adapted from the rules of Nosey Parker (https://github.com/praetorian-inc/noseyparker,
``crates/noseyparker/data/default/builtin/rules``), Copyright Praetorian, Inc., licensed
under the Apache License 2.0; the regexes were rewritten for Python's ``re`` and every
gap between the context word and the value is bounded.
"""

from __future__ import annotations

from bastion.scanners._secret_rules import DIGITS, ContextRule

__all__ = ["CONTEXT_RULES"]

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Between a key name and its value: closing quote, binder, opening quote.
_BIND = r"[\"'`]?\s{0,30}(?::=|=>|:|=)\s{0,30}[\"'`]?"
# "facebook app secret: ..." style gaps (Nosey Parker's `.?(api|app|...)?.?(key|...)?`).
_NAMED = (
    r".?(?:api|app|application|client|consumer|customer|secret|key)?.?"
    r"(?:key|oauth|sec|secret|id)?.{0,2}\s{0,20}.{0,2}\s{0,20}.{0,2}\b"
)

CONTEXT_RULES: tuple[ContextRule, ...] = (
    ContextRule(
        "aws_secret_access_key",
        rf"(?i)\baws_?(?:secret)?_?(?:access)?_?(?:key)?{_BIND}"
        r"(?P<body>[a-z0-9/+=]{40})(?![a-z0-9/+=])",
        ("aws",),
        gates=":=",
        classes=2,
        min_distinct=10,
    ),
    ContextRule(
        "aws_secret_access_key",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"
        r"[^\n]{0,40}?\b(?P<body>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ("akia", "asia", "a3t"),
        gates=DIGITS,
        classes=3,
        min_distinct=10,
    ),
    ContextRule(
        "aws_session_token",
        rf"(?i)aws.?session(?:.?token)?{_BIND}(?P<body>[a-z0-9/+=]{{16,1200}})(?![a-z0-9/+=])",
        ("aws",),
        gates=":=",
        classes=3,
        min_distinct=10,
    ),
    ContextRule(
        "azure_storage_key",
        r"(?i)(?:AccountName|SharedAccessKeyName|SharedSecretIssuer)\s{0,5}=\s{0,5}"
        r"[^$;{<\[.\s*\"'#][^.;\n\"'#]{2,80};[^\n]{0,30}?"
        r"(?:AccountKey|SharedAccessKey|SharedSecretValue)\s{0,5}=\s{0,5}"
        r"(?P<body>[a-zA-Z0-9/+]{20,100}={0,3})(?![a-zA-Z0-9/+=])",
        ("accountname", "sharedaccesskeyname", "sharedsecretissuer"),
        gates="=",
        anchored=False,
        classes=2,
        min_distinct=10,
    ),
    ContextRule(
        "azure_app_config_secret",
        r"https://[a-zA-Z0-9-]{1,100}\.azconfig\.io;Id=[^;\s]{4,40};"
        r"Secret=(?P<body>[a-zA-Z0-9+/]{36,50}=)",
        (".azconfig.io",),
        gates="=",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "azure_sas_token",
        r"(?i)[?&]sv=\d{4}-\d\d-\d\d&[^\s\"']{0,300}?\bsig=(?P<body>[a-z0-9%+/]{30,120}={0,2})",
        ("sig=",),
        gates="=",
        anchored=False,
        classes=2,
        min_distinct=10,
    ),
    ContextRule(
        "azure_devops_token",
        r"(?i)(?:ADO_PAT|pat_token|personal_?access_?token|\$token)\s{0,5}=\s{0,5}[\"']"
        r"(?P<body>[a-z0-9]{52})[\"']",
        ("ado_pat", "pat_token", "personal", "$token"),
        gates="=",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "azure_devops_token",
        r"\b(?P<body>[a-zA-Z0-9]{76}AZDO[a-zA-Z0-9]{4})\b",
        ("azdo",),
        gates=DIGITS,
        anchored=False,
        classes=3,
        repeats=False,
    ),
    ContextRule(
        "auth0_client_secret",
        r"(?s)AUTH0_CLIENT_ID\s{0,5}=\s{0,5}['\"][a-zA-Z0-9]{32}['\"].{0,100}?"
        r"AUTH0_CLIENT_SECRET\s{0,5}=\s{0,5}['\"](?P<body>[a-zA-Z0-9_-]{32,80})['\"]",
        ("auth0_client_secret",),
        gates="=",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "artifactory_api_key",
        r"(?i)artifactory.{0,50}\b(?P<body>[a-z0-9]{73})\b",
        ("artifactory",),
        gates=DIGITS,
        classes=2,
    ),
    ContextRule(
        "codeclimate_token",
        r"(?:CODECLIMATE_REPO_TOKEN|CC_TEST_REPORTER_ID)\s{0,5}[:=]\s{0,5}(?P<body>[a-f0-9]{64})\b",
        ("codeclimate_repo_token", "cc_test_reporter_id"),
        gates=":=",
    ),
    ContextRule(
        "django_secret_key",
        r"SECRET_KEY\s{0,5}=\s{0,5}r?[\"'](?P<body>[^\"'\n]{30,100})[\"']",
        ("secret",),
        gates="=",
        min_distinct=12,
        entropy=3.5,
    ),
    ContextRule(
        "facebook_app_secret",
        rf"(?i)\b(?:facebook|fb){_NAMED}(?P<body>[a-f0-9]{{32}})\b",
        ("facebook", "fb"),
        gates=DIGITS,
        classes=2,
    ),
    ContextRule(
        "figma_token",
        r"(?i)figma.{0,20}\b(?P<body>[0-9a-f]{4}-" + _UUID + r")\b",
        ("figma",),
        gates="-",
    ),
    ContextRule(
        "gitalk_client_secret",
        r"clientSecret:\s{0,5}'(?P<body>[a-f0-9]{40})'",
        ("clientsecret",),
        gates=":",
        classes=2,
    ),
    ContextRule(
        "github_client_secret",
        rf"(?i)github{_NAMED}(?P<body>[a-f0-9]{{40}})\b",
        ("github",),
        gates=DIGITS,
        classes=2,
    ),
    ContextRule(
        "google_oauth_secret",
        r"(?i)client.?secret.{0,10}\b(?P<body>[a-z0-9_-]{24})(?![a-z0-9_-])",
        ("secret",),
        gates=DIGITS,
        classes=3,
        min_distinct=12,
    ),
    ContextRule(
        "vault_token",
        r"(?i)(?:hashicorp|vault|token|key|secret)[\"':= ]{0,5}\b"
        r"(?P<body>[sbr]\.[A-Za-z0-9_-]{24,500})(?![A-Za-z0-9_-])",
        ("vault", "token", "key", "secret"),
        gates=DIGITS,
        classes=3,
        min_distinct=12,
    ),
    ContextRule(
        "vault_unseal_key",
        r"(?i)unseal\b.{1,10}\b(?P<body>[a-zA-Z0-9+/]{44})(?![a-zA-Z0-9+/])",
        ("unseal",),
        gates=DIGITS,
        classes=3,
    ),
    ContextRule(
        "heroku_api_key",
        rf"(?i)heroku.{{0,20}}key.{{0,20}}\b(?P<body>{_UUID})\b",
        ("heroku",),
        gates="-",
    ),
    ContextRule(
        "jenkins_token",
        rf"(?i)jenkins.{{0,12}}(?:(?:crumb|token).{{0,10}})?\b(?P<body>[0-9a-f]{{32,36}}|{_UUID})"
        r"(?![0-9a-f-])",
        ("jenkins",),
        gates=DIGITS,
        min_distinct=8,
    ),
    ContextRule(
        "jenkins_admin_password",
        r"following password to proceed to installation:\r?\n\r?\n(?P<body>[a-f0-9]{30,36})",
        ("proceed to installation",),
        gates=":",
        anchored=False,
    ),
    ContextRule(
        "kagi_api_key",
        r"(?s)\b(?:kagi|KAGI).{0,100}?\b(?P<body>[a-zA-Z0-9_-]{11}\.[a-zA-Z0-9_-]{43})"
        r"(?![a-zA-Z0-9_-])",
        ("kagi",),
        gates=DIGITS,
        classes=3,
    ),
    ContextRule(
        "kubernetes_bootstrap_token",
        r"(?i)(?:token|bootstrap).{0,8}\b(?P<body>[a-z0-9]{6}\.[a-z0-9]{16})\b",
        ("token", "bootstrap"),
        gates=DIGITS,
        classes=2,
        min_distinct=8,
    ),
    ContextRule(
        "kubernetes_bootstrap_token",
        r"token-id:\s{1,10}[a-z0-9]{6}\s{1,10}token-secret:\s{1,10}(?P<body>[a-z0-9]{16})\b",
        ("token-secret",),
        gates=":",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "linkedin_secret",
        rf"(?i)linkedin{_NAMED}(?P<body>[a-z0-9]{{16}})\b",
        ("linkedin",),
        gates=DIGITS,
        classes=2,
        min_distinct=8,
    ),
    ContextRule(
        "mailchimp_api_key",
        r"(?i)(?P<body>\b[a-f0-9]{32}-us[0-9]{1,3})\b",
        ("-us",),
        gates="-",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "mailgun_api_key",
        r"(?i)\bkey-(?P<body>[a-z0-9]{32})\b",
        ("key-",),
        gates="-",
        classes=2,
        min_distinct=10,
    ),
    ContextRule(
        "mapbox_token",
        r"(?is)mapbox.{0,30}?(?P<body>[spt]k\.[a-z0-9\-+/=]{32,128}\.[a-z0-9\-+/=]{20,30})"
        r"(?![a-z0-9\-+/=])",
        ("mapbox",),
        gates=DIGITS,
        classes=2,
    ),
    ContextRule(
        "nasa_api_key",
        r"nasa\.gov/[^\n]{0,200}?api_key=(?P<body>[a-zA-Z0-9]{40})\b",
        ("nasa.gov",),
        gates="=",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "newrelic_key",
        r"(?i)\b(?P<body>[a-z0-9]{6}[a-f0-9]{30}nral)\b",
        ("nral",),
        gates=DIGITS,
        anchored=False,
        min_distinct=8,
    ),
    ContextRule(
        "newrelic_key",
        r"(?i)associated with your New Relic account\.\s{1,10}license_key:\s{0,10}"
        r"(?P<body>[a-f0-9]{40})\b",
        ("new relic",),
        gates=":",
    ),
    ContextRule(
        "okta_api_token",
        r"(?is)(?:okta|ssws).{0,40}?\b(?P<body>00[a-z0-9_-]{39}[a-z0-9_])\b",
        ("okta", "ssws"),
        gates=DIGITS,
        classes=3,
    ),
    ContextRule(
        "particle_token",
        r"(?:access_token=|Authorization:\s{0,5}Bearer\s{0,5})\b(?P<body>[a-zA-Z0-9]{40})\b",
        ("api.particle.io",),
        gates=DIGITS,
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "postmark_token",
        rf"(?i)postmark[a-z0-9_-]{{0,20}}.{{0,10}}\b(?P<body>{_UUID})\b",
        ("postmark",),
        gates="-",
    ),
    ContextRule(
        "sauce_token",
        r"(?i)sauce.{0,50}?\b(?P<body>[a-f0-9-]{36})(?![a-f0-9-])",
        ("sauce",),
        gates="-",
        min_distinct=8,
    ),
    ContextRule(
        "sonarqube_token",
        r"(?i)sonar.{0,5}login.{0,5}\s{0,5}\b(?P<body>[a-f0-9]{40})\b",
        ("sonar",),
        gates=DIGITS,
        min_distinct=8,
    ),
    ContextRule(
        "salesforce_token",
        r"\b(?P<body>00[a-zA-Z0-9]{13}![a-zA-Z0-9._]{96})(?![a-zA-Z0-9._])",
        ("!",),
        gates="!",
        anchored=False,
        classes=3,
    ),
    ContextRule(
        "telegram_bot_token",
        r"(?:\b|(?<=bot))(?P<body>\d{5,16}:AA[a-zA-Z0-9_-]{32,33})(?![a-zA-Z0-9_-])",
        (":aa",),
        gates=":",
        anchored=False,
        classes=3,
    ),
    ContextRule(
        "thingsboard_token",
        r"(?:thingsboard\.cloud/api/v1/|\"provisionDevice(?:Key|Secret)\"\s{0,5}:\s{0,5}\")"
        r"(?P<body>[a-z0-9]{20})",
        ("thingsboard.cloud", "provisiondevice"),
        gates=DIGITS,
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "truenas_api_key",
        r"(?:\"params\"\s{0,5}:\s{0,5}\[\s{0,5}\"|Bearer\s{0,5})(?P<body>\d{1,9}-[a-zA-Z0-9]{64})\b",
        ("params", "bearer"),
        gates=DIGITS,
        anchored=False,
        classes=3,
    ),
    ContextRule(
        "twilio_api_key",
        r"(?i)twilio.{0,20}\b(?P<body>sk[a-f0-9]{32})\b",
        ("twilio",),
        gates=DIGITS,
    ),
    ContextRule(
        "twitter_secret",
        rf"(?i)twitter{_NAMED}(?P<body>[a-z0-9]{{35,44}})\b",
        ("twitter",),
        gates=DIGITS,
        classes=3,
    ),
    ContextRule(
        "blynk_token",
        r"https://(?:[a-z0-9]{2,5}\.)?blynk\.cloud/external/api/[a-zA-Z0-9/]{0,100}\?token="
        r"(?P<body>[a-zA-Z0-9_\-]{32})&",
        ("blynk.cloud",),
        gates="?",
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "blynk_token",
        r"-H\s{0,5}\"Authorization:\s{0,5}Bearer\s{0,5}(?P<body>[a-zA-Z0-9_\-]{40})\"",
        ("blynk.cloud",),
        gates='"',
        anchored=False,
        classes=2,
    ),
    ContextRule(
        "blynk_token",
        r"\boa2-client-id_[a-zA-Z0-9_\-]{32}(?::|&client_secret=)(?P<body>[a-zA-Z0-9_\-]{40})",
        ("oa2-client-id_",),
        gates="_",
        classes=2,
    ),
)
