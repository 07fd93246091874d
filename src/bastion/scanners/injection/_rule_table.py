"""The rule table of :mod:`.rules`: one entry per rule, data only.

Each entry is ``(id, category, weight, view, gates, profiles, pattern)``; see
:mod:`.rules` for what the fields mean. Patterns match the *skeleton* (lowercase
words, single spaces, no punctuation: write ``don t``, not ``don't``) unless the view
says otherwise, and use bounded repetition only. The jailbreak rules are in
:mod:`._rules_jailbreak`; shared fragments in :mod:`._rule_parts`.
"""

from __future__ import annotations

from bastion.scanners.injection._rule_parts import (
    _AI,
    _B,
    _I,
    _IGNORE,
    _PROMPT,
    _VERB,
    RuleSpec,
)
from bastion.scanners.injection._rules_jailbreak import JAILBREAK_RULES

__all__ = ["RULE_TABLE", "RuleSpec"]

_HIJACK_AND_EXTRACTION: tuple[RuleSpec, ...] = (
    # -- hijack: replacing the operator's instructions ------------------------------
    (
        "hijack.ignore_previous",
        "hijack",
        0.92,
        "skeleton",
        _IGNORE,
        _B,
        r"\b(?:ignore|ignoring|disregard|forget|skip|bypass|override|overrule|discard|neglect|"
        r"abandon|drop)\b (?:(?!my |our |i )\w+ ){0,3}?(?:previous|prior|above|earlier|"
        r"preceding|former|original|initial|old|existing|system|developer|safety|your|these|"
        r"those)\b (?:\w+ ){0,2}?(?:instructions?|rules|directions?|directives?|guidelines|"
        r"prompts?|commands?|orders|constraints|restrictions|programming|guidance)\b",
    ),
    (
        "hijack.ignore_all",
        "hijack",
        0.6,
        "skeleton",
        _IGNORE,
        _B,
        r"\b(?:ignore|disregard|forget|bypass|override)\b (?:all|any|every) (?:of )?(?:the |your "
        r"|these |those )?(?:instructions|rules|guidelines|prompts|directives|restrictions)\b",
    ),
    (
        "hijack.compact",
        "hijack",
        0.9,
        "compact",
        _IGNORE,
        _B,
        r"(?:ignore|disregard|forget|bypass|override)(?:all|any)?(?:the|your|of)?(?:previous|"
        r"prior|above|earlier|preceding|system|safety)(?:instructions?|rules|directions|"
        r"directives|guidelines|prompts?)",
    ),
    (
        "hijack.forget_told",
        "hijack",
        0.85,
        "skeleton",
        ("forget", "ignor", "disregard"),
        _B,
        r"\b(?:forget|ignore|disregard) (?:about )?(?:everything|anything|all|what) (?:\w+ ){0,2}?"
        r"you (?:were|have been|ve been|ve|got) (?:told|instructed|given|programmed|taught)\b",
    ),
    (
        "hijack.forget_everything",
        "hijack",
        0.45,
        "skeleton",
        ("forget", "ignor", "disregard"),
        _B,
        r"\b(?:forget|ignore|disregard) (?:about )?(?:everything|anything|all) (?:\w+ ){0,2}?"
        r"(?:above|before|so far|previously|until now)\b",
    ),
    (
        "hijack.new_instructions",
        "hijack",
        0.5,
        "lowered",
        ("instruction", "directive", "rules"),
        _B,
        r"\b(?:new|updated|revised|real|actual|true|override|secret) (?:system )?(?:instructions?|"
        r"directives?|rules|orders)[ \t]{0,4}:",
    ),
    (
        "hijack.from_now_on",
        "hijack",
        0.4,
        "skeleton",
        ("fromnowon",),
        _B,
        r"\bfrom now on (?:you|u) (?:\w+ ){0,2}?(?:are|will|must|shall|should|act|respond|answer|"
        r"reply|only|always|never|obey|follow)\b",
    ),
    (
        "hijack.you_must_now",
        "hijack",
        0.35,
        "skeleton",
        ("younow", "mustnow", "willnow"),
        _B,
        r"\byou (?:must|will|shall|are going to|have to) now\b|\byou are now (?:a|an|my|free|in "
        r"charge)\b",
    ),
    (
        "hijack.turn_marker",
        "hijack",
        0.9,
        "lowered",
        ("im", "inst", "sys", "endoftext", "eot"),
        _B,
        r"<\|?im_(?:start|end|sep)\|?>|<\|(?:system|assistant|user|endoftext|eot_id|"
        r"start_header_id|end_header_id|begin_of_text)\|>|\[/?inst\]|<</?sys>>",
    ),
    (
        "hijack.turn_marker_words",
        "hijack",
        0.85,
        "skeleton",
        ("imstart", "imend"),
        _B,
        r"\bim (?:start|end) (?:system|assistant|user)\b",
    ),
    (
        "hijack.role_header",
        "hijack",
        0.75,
        "lowered",
        ("system", "assistant", "developer"),
        _B,
        r"(?:^|\n)[ \t]{0,8}(?:#{1,6}|\*\*|\[|<|-{2,3}|={2,3})[ \t]{0,4}(?:system|assistant|"
        r"developer|admin)(?: message| prompt| instructions?| override| note)?[ \t]{0,4}(?:\]|>|"
        r"\*\*)?[ \t]{0,4}:",
    ),
    (
        "hijack.bare_role",
        "hijack",
        0.6,
        "lowered",
        ("system", "assistant"),
        _B,
        r"(?:^|\n)[ \t]{0,8}(?:system|assistant)[ \t]{0,4}:[ \t]{0,4}(?:you |ignore|from now|new "
        r"|the user|disregard|forget)",
    ),
    (
        "hijack.end_of_input",
        "hijack",
        0.85,
        "skeleton",
        ("endofuser", "override"),
        _B,
        r"\bend of user (?:input|prompt|message|query)\b|\b(?:system|developer) override\b",
    ),
    # -- hijack, indirect profile: text addressing the assistant -------------------
    (
        "hijack.note_to_ai",
        "hijack",
        0.75,
        "skeleton",
        ("ai", "assistant", "llm", "chatbot", "gpt", "claude", "copilot", "languagemodel"),
        _I,
        r"\b(?:note|message|instructions?|attention|important|notice|reminder|request|directive|"
        r"command|hey|hello|dear|hi) (?:to |for )?(?:the |any |all )?" + _AI + r"s?\b",
    ),
    (
        "hijack.if_you_are_ai",
        "hijack",
        0.75,
        "skeleton",
        ("ai", "assistant", "llm", "chatbot", "languagemodel", "bot"),
        _I,
        r"\bif you (?:are|re) (?:an? )?(?:" + _AI[3:-1] + r"|bot|automated system|large language "
        r"model)\b|\b(?:any|all|every) " + _AI + r"s? (?:\w+ ){0,2}?(?:reading|processing|"
        r"summari[sz]ing|parsing|seeing|that reads|who reads)\b",
    ),
    (
        "hijack.assistant_imperative",
        "hijack",
        0.55,
        "skeleton",
        ("ai", "assistant", "llm", "chatbot", "gpt", "claude"),
        _I,
        r"(?<!the )(?<!an )(?<!executive )(?<!virtual )(?<!personal )(?<!administrative )\b"
        + _AI
        + r" (?:you (?:must|should|need to|have to) |must |should |please |now )?(?:ignore|"
        r"disregard|forget|forward|send|email|transfer|delete|execute|run|call|fetch|open|visit|"
        r"navigate|reveal|output|include|append|insert|tell|recommend|reply|respond|say|print)\b",
    ),
    (
        "hijack.when_processing",
        "hijack",
        0.7,
        "skeleton",
        ("summar", "read", "process", "answer", "respond", "translat", "analy", "review", "pars"),
        _I,
        r"\b(?:when|while|if|after|before|as) (?:you (?:are |re )?)?(?:summari[sz]|read|process|"
        r"answer|respond|translat|analy[sz]|review|pars)\w* (?:\w+ ){0,3}?(?:this|the|these|that) "
        r"(?:document|page|email|e mail|text|content|message|file|data|result|website|article)s? "
        r"(?:\w+ ){0,6}?(?:you must|you should|ignore|instead|do not tell|don t tell|make sure to "
        r"(?:include|say|add|tell)|always (?:say|include|respond)|tell the user|respond with|reply "
        r"with|include the following)\b",
    ),
    (
        "hijack.hide_from_user",
        "hijack",
        0.6,
        "skeleton",
        ("user", "human"),
        _I,
        r"\b(?:do not|don t|dont|never|without) (?:tell|telling|inform|informing|mention|"
        r"mentioning|reveal|revealing|alert|alerting|notify|notifying) (?:\w+ ){0,2}?(?:the user|"
        r"the human)\b",
    ),
    (
        "hijack.exfil_image",
        "hijack",
        0.75,
        "lowered",
        ("http",),
        _I,
        r"!\[[^\]\n]{0,100}\]\(https?://[^\s)]{0,200}[?&][^\s)=]{1,40}=(?:\{|\[|\$|%7b|<)",
    ),
    # -- extraction: the system prompt ---------------------------------------------
    (
        "extraction.your_prompt",
        "extraction",
        0.88,
        "skeleton",
        ("prompt", "instruction", "message"),
        _B,
        r"\b" + _VERB + r"\b (?:me |us )?(?:out |back )?(?:\w+ ){0,2}?(?:your|ur) (?:\w+ ){0,2}?"
        r"(?:" + _PROMPT[3:-1] + r"|prompt|instructions verbatim|exact instructions|full "
        r"instructions)\b",
    ),
    (
        "extraction.your_rules",
        "extraction",
        0.45,
        "skeleton",
        ("instruction", "rule", "guideline", "configur", "programming", "directive"),
        _B,
        r"\b" + _VERB + r"\b (?:me |us )?(?:out |back )?(?:\w+ ){0,2}?(?:your|ur) (?:instructions|"
        r"rules|guidelines|configuration|programming|directives)\b",
    ),
    (
        "extraction.the_prompt",
        "extraction",
        0.8,
        "skeleton",
        ("prompt", "instruction", "message"),
        _B,
        r"\b" + _VERB + r"\b (?:me |us )?(?:out |back )?(?:\w+ ){0,2}?(?:the|this|that|its) "
        r"(?:\w+ ){0,2}?" + _PROMPT + r"\b(?! (?:field|setting|settings|variable|parameter|config|"
        r"configuration|template|option|column|box|input|file|in our|in the|of our|for our|for "
        r"the|docs|documentation|feature)\b)",
    ),
    (
        "extraction.compact",
        "extraction",
        0.85,
        "compact",
        ("prompt", "instruction"),
        _B,
        r"(?:reveal|print|show|repeat|output|display|leak|dump)(?:me|us)?(?:your|the)(?:full|"
        r"entire|whole|original|initial|hidden|secret)?(?:systemprompt|systemmessage|"
        r"initialprompt|hiddenprompt|initialinstructions|hiddeninstructions)(?!field|setting|"
        r"variable|parameter|config|template|option|column)",
    ),
    (
        "extraction.what_told",
        "extraction",
        0.8,
        "skeleton",
        ("told", "instruct", "programmed", "prompt", "message"),
        _B,
        r"\bwhat (?:were|was|are|is|have|did) (?:you|your) (?:been )?(?:told|instructed|programmed|"
        r"" + _PROMPT[3:-1] + r")\b",
    ),
    (
        "extraction.what_rules",
        "extraction",
        0.45,
        "skeleton",
        ("instruction", "rule"),
        _B,
        r"\bwhat (?:are|were) your (?:instructions|rules)\b",
    ),
    (
        "extraction.everything_above",
        "extraction",
        0.75,
        "skeleton",
        ("above", "beginning", "sofar", "before"),
        _B,
        r"\b(?:output|print|repeat|copy|write|show|echo|return|reproduce|display|type|tell me|"
        r"give me)\b (?:out |back )?(?:\w+ ){0,2}?(?:everything|all|the text|the words|anything|"
        r"all text|the content|the lines|the conversation|the instructions) (?:\w+ ){0,2}?"
        r"(?:above|before this|prior to this|from the (?:very )?(?:beginning|start)|so far|up to "
        r"this point)\b",
    ),
    (
        "extraction.starting_with",
        "extraction",
        0.6,
        "skeleton",
        ("youare",),
        _B,
        r"\b(?:starting|beginning|start|begin) with (?:the (?:words|phrase|sentence) )?you are\b",
    ),
)

RULE_TABLE: tuple[RuleSpec, ...] = _HIJACK_AND_EXTRACTION + JAILBREAK_RULES
