"""Why a knowledge update or a review could not be handled.

Exceptions::

    KnowledgeError              the request is unusable; the message says what to fix
     +- KnowledgeNotFound       no such feedback, document, answer or source here
     +- KnowledgeConflict       the item is not in a state that allows this
     +- KnowledgeForbidden      a reviewer may not decide on their own update

Messages never quote a correction, a document or an answer.
"""

from __future__ import annotations

__all__ = ["KnowledgeConflict", "KnowledgeError", "KnowledgeForbidden", "KnowledgeNotFound"]


class KnowledgeError(Exception):
    """A knowledge update or review could not be handled; the message says why."""


class KnowledgeNotFound(KnowledgeError):
    """No such item in the caller's tenant (or not one the caller may rate)."""


class KnowledgeConflict(KnowledgeError):
    """The item's state refuses the request (e.g. releasing what is not quarantined)."""


class KnowledgeForbidden(KnowledgeError):
    """Separation of duties: nobody releases or rejects their own update."""
