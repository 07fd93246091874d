"""Knowledge updates and their poisoning defense: feedback, anomaly, versions, rollback.

See ``docs/poisoning.md``. Feedback on assistant answers is checked and stored per
tenant (:class:`FeedbackStore`); every accepted change to a source's knowledge is a
version of it (:class:`KnowledgeVersions`), and a source can be rolled back to any.
The limits both are held to are :class:`KnowledgeLimits`, set per tenant policy by its
``[knowledge]`` table (:func:`parse_knowledge_policy`).
"""

from __future__ import annotations

from bastion.feedback.errors import (
    KnowledgeConflict,
    KnowledgeError,
    KnowledgeForbidden,
    KnowledgeNotFound,
)
from bastion.feedback.limits import KnowledgeLimits, parse_knowledge_policy
from bastion.feedback.store import FeedbackInfo, FeedbackStore, Submission
from bastion.feedback.versions import KnowledgeVersions, Rollback, Version

__all__ = [
    "FeedbackInfo",
    "FeedbackStore",
    "KnowledgeConflict",
    "KnowledgeError",
    "KnowledgeForbidden",
    "KnowledgeLimits",
    "KnowledgeNotFound",
    "KnowledgeVersions",
    "Rollback",
    "Submission",
    "Version",
    "parse_knowledge_policy",
]
