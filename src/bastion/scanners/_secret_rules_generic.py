"""Generic credentials: passwords in URLs, connection strings, config and code, and
high-entropy values assigned to key/secret/token/password names.

These run on the context engine (:class:`~bastion.scanners._secret_rules.ContextRule`)
and need a tight context to stay precise: a binder (``=``, ``:``) after a credential
word, a ``user:pass@`` URL, a known API call. Values that look like placeholders
(``changeme``, ``<password>``, ``${DB_PASSWORD}``, ``your_token``, ``xxxx``) are
rejected by the engine. Several are adapted from the rules of Nosey Parker
(https://github.com/praetorian-inc/noseyparker, ``crates/noseyparker/data/default/
builtin/rules/generic.yml`` and others), Copyright Praetorian, Inc., licensed under
the Apache License 2.0; the regexes were rewritten for Python's ``re`` and bounded.
"""

from __future__ import annotations

from bastion.scanners._secret_rules import DIGITS, ContextRule

__all__ = ["GENERIC_RULES"]

# A URL's userinfo: RFC 3986 unreserved, percent-encoded and sub-delims, bounded.
_USERINFO = r"[A-Za-z0-9%._~!$&'()*+,;=\-]"
# ``key`` alone is often an attribute name (``<add key="...">``): it needs a prefix.
_KEYWORD = r"(?:(?<=[A-Za-z0-9_.\-])key|secret|token|passwd|password|pwd|credential|auth)"

GENERIC_RULES: tuple[ContextRule, ...] = (
    ContextRule(
        "url_credentials",
        r"(?i)(?<=[a-z0-9])://"
        + _USERINFO
        + r"{1,100}:(?P<body>"
        + _USERINFO
        + r"{3,200})@[A-Za-z0-9_\-]{1,100}(?:\.[A-Za-z0-9_\-]{1,63}){0,10}(?::\d{1,5})?"
        r"(?![A-Za-z0-9_\-])",
        ("://",),
        gates="@",
    ),
    ContextRule(
        "connection_string_password",
        r"(?i)(?:User|User Id|UserId|Uid|Username)\s{0,5}=\s{0,5}[^\s;]{1,100}\s{0,5};"
        r"[ \t]{0,40}[^\n]{0,10}?(?:Password|Pwd)\s{0,5}=\s{0,5}(?:\\?[\"'])?"
        r"(?P<body>[^\t ;\"'\\\n]{3,100})\\?(?:[;\"']|$)",
        ("user", "uid"),
        gates="=",
    ),
    ContextRule(
        "connection_string_password",
        r"<\s{0,5}add\s{1,5}key\s{0,5}=\s{0,5}\"[^\n\"]{0,20}"
        r"(?i:pass|secret|user|admin|token|connectionstring)[^\n\"]{0,20}\"\s{1,5}"
        r"value\s{0,5}=\s{0,5}\"(?P<body>[^\n\"]{3,200})\"\s{0,5}/\s{0,5}>",
        ("<add",),
        gates="=",
    ),
    ContextRule(
        "password",
        r"(?i)\b(?:NetworkCredential|DirectoryEntry)\s{0,5}\(\s{0,5}"
        r"(?:\"[^\"\n]{3,100}\"\s{0,20},\s{0,20}){1,2}\"(?P<body>[^\"\n]{3,50})\"",
        ("networkcredential", "directoryentry"),
        gates="(",
    ),
    ContextRule(
        "password",
        r"(?i)password[\"']?[ \t]{0,10}(?::=|=>|=|:)[ \t]{0,10}\\?([\"'])"
        r"(?P<body>[^$<%@.,\s+'\"(){}&/#\-\\][^\s+'\"(){}/\\]{4,200})\\?\1",
        ("passw",),
        gates=":=",
    ),
    ContextRule(
        "password",
        r"(?i)(?:user(?:name)?)[ \t]{0,10}=[ \t]{0,10}[\"']?[A-Za-z0-9.@_+\-]{3,60}[\"']?"
        r"[ \t]{0,10}[,;]?\s{0,10}(?:(?:#|//)[^\n]{0,200}\n\s{0,10}){0,3}"
        r"[A-Za-z0-9_]{0,30}pass(?:word)?[ \t]{0,10}=[ \t]{0,10}"
        r"(?:[\"'](?P<body>[^\"'\n]{5,30})[\"']|(?P<body2>[^\s$@{<\"'][^\s]{4,29})(?:\s|$))",
        ("user",),
        gates="=",
    ),
    ContextRule(
        "password",
        r"(?i)the (?:default )?password "
        r"(?:for (?:the )?(?:user|username) (['\"])[^'\"\n]{2,24}\1 )?"
        r"is (['\"])(?P<body>[^'\n#$|\"{<+ ()\\][^'\"\n]{3,60})\2",
        ("passw",),
        gates="\"'",
        anchored=False,
    ),
    ContextRule(
        "password",
        r"(?i)\bif\b[^\n]{0,50}?\b(?:secret|pass|password|challenge)\b\s{0,5}(?:===?|!==?)\s{0,5}"
        r"(['\"])(?P<body>[^'\"\n]{3,60})\1",
        ("==", "!="),
        gates="=",
        anchored=False,
    ),
    ContextRule(
        "password",
        r"(?i)\bREACT_APP(?:_[A-Z0-9]{1,30}){0,5}_PASS(?:WORD)?\s{0,5}=\s{0,5}['\"]?"
        r"(?P<body>[^\s'\"$]{6,200})",
        ("react_app",),
        gates="=",
    ),
    ContextRule(
        "password",
        r"(?:\bmachine\s{1,10}\S{1,200}|\bdefault)\s{1,10}login\s{1,10}\S{1,200}\s{1,10}"
        r"password\s{1,10}(?P<body>\S{1,200})",
        ("login",),
        gates="",
        anchored=False,
    ),
    ContextRule(
        "password",
        r"(?i)psexec[^\n]{0,100}?-u\s{0,5}\S{1,100}\s{1,5}-p\s{0,5}(?P<body>[^\s-]\S{0,100})",
        ("psexec",),
        gates="-",
    ),
    ContextRule(
        "password",
        r"(?i)Connect-VIServer[^\n]{0,50}?-User\s{1,5}\S{3,30}\s{1,5}[^\n]{0,50}?"
        r"-Password\s{1,5}(?P<body>[^\s$]\S{2,30})",
        ("connect-viserver",),
        gates="-",
    ),
    ContextRule(
        "password",
        r"(?i)credentials\s{0,5}\{(?:\s{0,40}//[^\n]{0,200}){0,3}"
        r"\s{0,40}(?:username|password)\s{1,5}['\"][^'\"]{1,60}['\"](?:\s{0,40}//[^\n]{0,200}){0,3}"
        r"\s{0,40}(?:username|password)\s{1,5}['\"](?P<body>[^'\"$]{1,60})['\"]",
        ("credentials",),
        gates="{",
    ),
    ContextRule(
        "password",
        r"\$mail->Password\s{0,40}=\s{0,5}'(?P<body>[^'\n]{5,200})';",
        ("$mail->password",),
        gates="=",
    ),
    ContextRule(
        "jwt_secret",
        r"(?im)^\s{0,40}(?:jwt:\s{1,40}secret:|jwtsecret:)\s{1,10}"
        r"(?:\"(?P<body>[^\"\n]{6,200})\"|'(?P<body2>[^'\n]{6,200})')",
        ("jwt",),
        gates=":",
        anchored=False,
    ),
    ContextRule(
        "http_basic_auth",
        r"(?i)Authorization(?::\s{1,5}|\s{0,5}.{1,5}\s{0,5})Basic\s{1,5}"
        r"(?P<body>[A-Za-z0-9+/]{6,500}={0,2})(?![A-Za-z0-9+/=])",
        ("authorization",),
        gates="",
        classes=2,
    ),
    ContextRule(
        "http_bearer_token",
        r"(?i)Authorization(?::\s{1,5}|\s{0,5}.{1,5}\s{0,5})Bearer\s{1,5}"
        r"(?P<body>[a-zA-Z0-9._~+/\-]{6,2000}={0,5})(?![a-zA-Z0-9._~+/=\-])",
        ("authorization",),
        gates="",
        classes=2,
        min_distinct=6,
    ),
    ContextRule(
        "generic_api_key",
        r"(?i)(?:api_key|apikey|access_key|accesskey)[^\n]{0,3}?[ \t]{0,10}(?::=|=>|[:=,'\"])"
        r"[ \t]{0,10}[^\n]{0,3}?\b(?P<body>[0-9a-z][0-9a-z\-._/+]{30,62}[0-9a-z])\b",
        ("api_key", "apikey", "access_key", "accesskey"),
        gates=":=,'\"",
        classes=2,
        min_distinct=10,
        entropy=3.0,
    ),
    ContextRule(
        "generic_secret",
        r"(?i)secret[^\n]{0,20}?\b(?P<body>[0-9a-z]{32,64})\b",
        ("secret",),
        gates=DIGITS,
        classes=2,
        min_distinct=10,
        entropy=3.0,
    ),
    # High-entropy value assigned to a credential-named key: `API_KEY = "..."`,
    # `"client_secret": "..."`, `token: ...`. The value needs letters and digits,
    # 16+ characters and >= 3.3 bits of entropy per character.
    ContextRule(
        "generic_secret",
        r"(?i)" + _KEYWORD + r"[A-Za-z0-9_.\-]{0,30}[\"'`]?\s{0,5}(?::=|=>|:|=)\s{0,5}"
        r"(?:[\"'`]|b[\"'])?(?P<body>[A-Za-z0-9_\-+/=.~]{16,500})",
        ("key", "secret", "token", "passw", "pwd", "credential", "auth"),
        gates=":=",
        classes=2,
        min_distinct=10,
        entropy=3.3,
        score=0.8,
    ),
)
