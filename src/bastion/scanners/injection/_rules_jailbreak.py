"""Jailbreak rules of :mod:`.rules` (personas, modes, refusal suppression): data only.

Same entry layout as :data:`bastion.scanners.injection._rule_table.RULE_TABLE`.
"""

from __future__ import annotations

from bastion.scanners.injection._rule_parts import (
    _AI,
    _D,
    _LIMITS,
    RuleSpec,
)

__all__ = ["JAILBREAK_RULES"]

JAILBREAK_RULES: tuple[RuleSpec, ...] = (
    # -- jailbreak: personas, modes and refusal suppression (direct profile) -------
    (
        "jailbreak.dan",
        "jailbreak",
        0.92,
        "skeleton",
        ("dan", "anythingnow"),
        _D,
        r"\bdo anything now\b|\b(?:you are|you re|act as|pretend to be|you will be|become) "
        r"(?:now )?dan\b(?! s\b)|\bdan (?:mode|jailbreak|prompt)\b",
    ),
    (
        "jailbreak.ai_mode",
        "jailbreak",
        0.85,
        "skeleton",
        ("mode",),
        _D,
        r"\b(?:chatgpt|gpt|ai|assistant|you are|you re|simulate|act in|act as) (?:\w+ ){0,2}?"
        r"(?:developer|dev|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|opposite|"
        r"dan|unlocked|god) mode\b|\b(?:enable|activate|enter|switch to|turn on) (?:the )?"
        r"(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|opposite) mode\b",
    ),
    (
        "jailbreak.mode_enabled",
        "jailbreak",
        0.5,
        "skeleton",
        ("mode",),
        _D,
        r"\b(?:developer|god|sudo|debug|admin) mode (?:enabled|activated|output|response)\b",
    ),
    (
        "jailbreak.jailbroken",
        "jailbreak",
        0.85,
        "skeleton",
        ("jailbr", "freed", "liberat", "unchained", "unshackled", "unleashed"),
        _D,
        r"\byou (?:are|re|have been|ve been|will be|were) (?:now )?(?:jailbroken|freed|liberated|"
        r"unchained|unshackled|unleashed)\b",
    ),
    (
        "jailbreak.word",
        "jailbreak",
        0.3,
        "skeleton",
        ("jailbr",),
        _D,
        r"\bjailbr(?:oken|eak|eaking)\b",
    ),
    (
        "jailbreak.ai_without_limits",
        "jailbreak",
        0.85,
        "skeleton",
        ("ai", "assistant", "model", "chatbot", "llm", "gpt"),
        _D,
        r"\b(?:an? )?" + _AI + r" (?:with|without|that has|who has|free of|free from|not bound "
        r"by|unbound by) (?:no |any |zero )?" + _LIMITS + r"\b",
    ),
    (
        "jailbreak.you_no_limits",
        "jailbreak",
        0.6,
        "skeleton",
        ("no", "without", "free", "bound"),
        _D,
        r"\byou (?:are|re|have|will have|now have|will|can|must) (?:\w+ ){0,2}?(?:no|zero|without|"
        r"free from|free of|not bound by|not restricted by|beyond) (?:\w+ ){0,2}?"
        + _LIMITS
        + r"\b",
    ),
    (
        "jailbreak.bypass_your",
        "jailbreak",
        0.85,
        "skeleton",
        ("your",),
        _D,
        r"\b(?:bypass|disable|ignore|remove|turn off|circumvent|evade|override|deactivate|forget|"
        r"break|escape|drop|abandon) (?:all )?(?:of )?your (?:\w+ ){0,2}?(?:filters?|guidelines|"
        r"policies|restrictions|protocols|constraints|guardrails|training|programming|safeguards|"
        r"limitations|principles|values|ethics|morals)\b",
    ),
    (
        "jailbreak.bypass_safety",
        "jailbreak",
        0.4,
        "skeleton",
        ("safety", "content", "ethic", "moral"),
        _D,
        r"\b(?:bypass|circumvent|evade|jailbreak) (?:the |any |all )?(?:\w+ )?(?:safety|content|"
        r"ethical|moral) (?:filters?|guidelines|policies|restrictions|guardrails|safeguards)\b",
    ),
    (
        "jailbreak.never_refuse",
        "jailbreak",
        0.85,
        "skeleton",
        ("refuse", "decline", "reject"),
        _D,
        r"\byou (?:will|must|should|can|shall|may|are to) (?:never|not) (?:ever )?"
        r"(?:refuse|decline|reject)\b",
    ),
    (
        "jailbreak.never_refuse_bare",
        "jailbreak",
        0.4,
        "skeleton",
        ("refuse", "decline"),
        _D,
        r"\b(?:never|do not|don t|dont) (?:ever )?(?:refuse|decline)\b",
    ),
    (
        "jailbreak.no_cant",
        "jailbreak",
        0.85,
        "skeleton",
        ("can", "unable", "sorry", "asan"),
        _D,
        r"\b(?:do not|don t|dont|never|must not|you will not|you won t|stop) (?:ever )?(?:say|"
        r"saying|tell me|respond|reply|mention|add|include|use|apologi[sz]e)\w* (?:with |that )?"
        r"(?:you can t|you cannot|you are unable|you re unable|i can t|i cannot|i m unable|i am "
        r"unable|i m sorry|as an ai|as a language model|that you can t)\b",
    ),
    (
        "jailbreak.no_disclaimers",
        "jailbreak",
        0.35,
        "skeleton",
        ("disclaimer", "warning", "moraliz", "moralis", "apolog"),
        _D,
        r"\b(?:without|no|never add|don t add|do not add|never include) (?:any )?(?:warnings|"
        r"disclaimers|moralizing|moralising|caveats|apologies|refusals)\b",
    ),
    (
        "jailbreak.hypothetical",
        "jailbreak",
        0.7,
        "skeleton",
        (
            "hypothetic",
            "imagine",
            "pretend",
            "suppose",
            "fiction",
            "roleplay",
            "actas",
            "simulate",
            "world",
        ),
        _D,
        r"\b(?:hypothetical(?:ly)?|imagine|pretend|suppose|let s say|fictional|in a world where|"
        r"roleplay|role play|act as|simulate)\b (?:\w+ ){0,6}?(?:" + _AI[3:-1] + r"|you|version "
        r"of you)\b (?:\w+ ){0,3}?(?:without|no|free of|free from|with no|that has no|not bound by|"
        r"had no|has no|didn t have|did not have)\b (?:\w+ ){0,2}?" + _LIMITS + r"\b",
    ),
    (
        "jailbreak.persona",
        "jailbreak",
        0.85,
        "skeleton",
        (
            "evil",
            "unfilter",
            "uncensor",
            "amoral",
            "unethical",
            "unrestrict",
            "rogue",
            "malicious",
            "immoral",
            "unhinged",
        ),
        _D,
        r"\b(?:act as|acting as|pretend to be|pretend you are|pretend you re|roleplay as|role play "
        r"as|play the role of|you are now|you re now|become|simulate|respond as|answer as) (?:an? "
        r"|the |my )?(?:\w+ ){0,2}?(?:evil|unfiltered|uncensored|amoral|unethical|unrestricted|"
        r"rogue|malicious|immoral|unhinged|lawless|jailbroken|unbound) (?:\w+ ){0,1}?(?:ai|"
        r"assistant|chatbot|model|confidant|version|twin|alter ego|bot|persona|gpt|entity|llm)\b",
    ),
    (
        "jailbreak.known_templates",
        "jailbreak",
        0.95,
        "skeleton",
        (
            "machiavel",
            "confidant",
            "betterdan",
            "antigpt",
            "basedgpt",
            "avoidnorms",
            "mongotom",
            "amoral",
            "ethicalormoral",
            "everything",
        ),
        _D,
        r"\balways intelligent and machiavellian\b|\bevil confidant\b|\bbetterdan\b|\banti ?gpt\b|"
        r"\bbasedgpt\b|\bstrive to avoid norms\b|\bmongo tom\b|\bunfiltered and amoral\b|\bno "
        r"ethical or moral guidelines\b|\bcan do anything and everything\b",
    ),
    (
        "jailbreak.stay_in_character",
        "jailbreak",
        0.35,
        "skeleton",
        ("character",),
        _D,
        r"\b(?:stay|remain|always stay|stay fully) in character\b|\bbreak(?:ing)? character\b",
    ),
    (
        "jailbreak.two_responses",
        "jailbreak",
        0.7,
        "skeleton",
        ("response", "answer", "repl", "output"),
        _D,
        r"\b(?:two|2|dual|both) (?:different |separate )?(?:responses|answers|replies|outputs) "
        r"(?:\w+ ){0,10}?(?:normal|classic|standard|filtered|censored) (?:\w+ ){0,10}?"
        r"(?:jailbreak|jailbroken|dan|developer mode|unfiltered|uncensored|unrestricted)\b",
    ),
    (
        "jailbreak.no_longer",
        "jailbreak",
        0.75,
        "skeleton",
        ("nolonger",),
        _D,
        r"\byou (?:are|re) (?:now )?no longer (?:bound|restricted|limited|constrained|an ai|a "
        r"language model|chatgpt|an assistant|governed|required to follow)\b",
    ),
    (
        "jailbreak.freed_from",
        "jailbreak",
        0.6,
        "skeleton",
        ("freed", "liberat", "brokenfree", "released"),
        _D,
        r"\b(?:freed|liberated|released|broken free) from (?:\w+ ){0,2}?(?:restrictions|rules|"
        r"constraints|openai|anthropic|your programming|the typical confines|confines)\b",
    ),
)
