"""Feature extraction shared by the injection model and its training script.

A text is split into tokens (runs of word characters, or runs of other non-space
characters), each lower-cased; a token whose original spelling mixes case inside the
word ("similarlyNow", "HTMLsvg", "compressToString", the glued words of optimised
adversarial suffixes) keeps a trailing :data:`GLUE_MARK`. Every token contributes a
fixed set of sparse features:

- ``w:<token>``: the token itself;
- ``b:<previous> <token>``: the word bigram (from the second token on);
- ``c:<gram>``: character 3- and 5-grams of ``<token>`` (word boundaries marked), for
  tokens that contain a letter, over the first :data:`MAX_GRAM_CHARS` characters;
- ``s:<shape>``: the token's shape (character classes, length bucket) for tokens that
  are not plain ASCII words: punctuation runs, digits, non-ASCII, long blobs (plain
  word length was a spurious cue: long academic words scored as attacks);
- ``g:<kind>``: the dense "adversarial suffix / gibberish" family: glued mixed-case
  words, punctuation runs mixing bracket kinds or three or more distinct symbols,
  long words with no vowel or with a rare consonant cluster; a punctuation run made
  only of JSON structure characters with a quote (`":{"`, `"}]}`) is ``g:json``
  instead, so tool definitions and JSON arguments do not read as jumbles. Each is a weak signal
  alone (code and tables have some); the model learns how much a window of them
  weighs against code, SQL, URLs and CSV rows in its benign training text.

A window's features (:func:`window_features`) are those of its *distinct* tokens and
its *distinct* bigrams, each counted once: repeated lines (logs, boilerplate, a
sentence pasted 500 times) add nothing, where counting every occurrence let any
repeated benign sentence reach a high score. A window's score is still a sum of
per-distinct-token contributions, so the model needs one feature lookup per token.
Training and inference must agree on every detail here: change it and the model must
be retrained.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

__all__ = [
    "GLUE_MARK",
    "MAX_GRAM_CHARS",
    "MAX_TOKEN_CHARS",
    "NORM_PSEUDOCOUNT",
    "TOKEN_PATTERN",
    "bigram_feature",
    "normalize_token",
    "token_features",
    "tokenize",
    "window_features",
]

MAX_TOKEN_CHARS = 32
# A window's summed weights are divided by sqrt(feature count + NORM_PSEUDOCOUNT): the
# pseudo-count shrinks short texts towards the bias, so two or three features of a
# short question or a one-line system prompt cannot decide it alone (since model
# format 3).
NORM_PSEUDOCOUNT = 16
MAX_GRAM_CHARS = 20
GLUE_MARK = "\u2191"
_GRAM_ORDERS = (3, 5)
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]+")
_KIND: Mapping[str, int] = MappingProxyType(
    {"(": 0, ")": 0, "[": 1, "]": 1, "{": 2, "}": 2, "<": 3, ">": 3}
)
_BRACKETS = frozenset(_KIND)
_ODD = frozenset("\\|`^~@$={}[]<>")
_VOWELS = frozenset("aeiouy")
_JSON = frozenset('"{}[]:,')
_CLUSTER = re.compile(r"[bcdfghjklmnpqrstvwxz]{5}|q[^u]|[jqxz]{2}")


def normalize_token(raw: str) -> str:
    """One raw token (a :data:`TOKEN_PATTERN` match) as the model sees it: cut to
    :data:`MAX_TOKEN_CHARS`, lower-cased, and marked with :data:`GLUE_MARK` when its
    spelling mixes case inside the word (not all-lower, all-upper or title case)."""
    tok = raw[:MAX_TOKEN_CHARS]
    low = tok.lower()
    if low == tok or tok.isupper() or tok.istitle():
        return low
    return low + GLUE_MARK


def tokenize(text: str) -> list[str]:
    """The text's tokens, each through :func:`normalize_token`."""
    return [normalize_token(tok) for tok in TOKEN_PATTERN.findall(text)]


def _shape(token: str) -> str:
    classes: list[str] = []
    for char in token:
        if char.isalpha():
            cls = "a" if char.isascii() else "u"
        elif char.isdigit():
            cls = "9"
        else:
            cls = "p"
        if not classes or classes[-1] != cls:
            classes.append(cls)
    size = len(token)
    bucket = "1" if size == 1 else "s" if size <= 3 else "m" if size <= 7 else "l"
    return "s:" + "".join(classes[:4]) + bucket


def _gibberish(word: str, glued: bool) -> list[str]:
    out = ["g:glue"] if glued else []
    if not word[0].isalnum() and word[0] != "_":
        chars = set(word)
        if '"' in chars and chars <= _JSON:
            # JSON structure (`":{"`, `"}]}`, `",`): its own feature, not the jumble ones.
            return [*out, "g:json"]
        if len(chars) >= 3:
            out.append("g:p3")
        brackets = [c for c in word if c in _BRACKETS]
        if len(brackets) >= 3 and len({_KIND[c] for c in brackets}) >= 2:
            out.append("g:brk")
        if chars & _ODD and len(word) >= 2:
            out.append("g:odd")
    elif word.isalpha() and word.isascii() and len(word) >= 4:
        if not _VOWELS.intersection(word):
            out.append("g:novowel")
        elif _CLUSTER.search(word):
            out.append("g:cluster")
    return out


def token_features(token: str) -> list[str]:
    """The unigram, character n-gram, shape and gibberish features of one token."""
    glued = token.endswith(GLUE_MARK)
    word = token[:-1] if glued else token
    features = ["w:" + token, *_gibberish(word, glued)]
    if not (word.isascii() and word.isalpha()):
        features.append(_shape(word))
    if any(char.isalpha() for char in word):
        padded = "<" + word[:MAX_GRAM_CHARS] + ">"
        size = len(padded)
        for n in _GRAM_ORDERS:
            features.extend("c:" + padded[i : i + n] for i in range(size - n + 1))
    return features


def bigram_feature(previous: str, token: str) -> str:
    return "b:" + previous + " " + token


def window_features(tokens: Sequence[str], start: int, end: int) -> list[str]:
    """The feature names of the window ``tokens[start:end]`` as the model counts them:
    the features of each *distinct* token, then each *distinct* bigram, once each.
    Repeating a line therefore adds nothing; a character n-gram shared by two different
    words still counts twice. The model normalises by the square root of this list's
    length plus :data:`NORM_PSEUDOCOUNT`."""
    names: list[str] = []
    for token in dict.fromkeys(tokens[start:end]):
        names.extend(token_features(token))
    names.extend(
        dict.fromkeys(bigram_feature(tokens[i - 1], tokens[i]) for i in range(start + 1, end))
    )
    return names
