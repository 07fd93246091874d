"""Why a document could not be stored or searched.

Exceptions::

    SourceError                 (bastion.datasources: the collection is a data source)
     +- DocumentError           the document or the query is unusable (says what to fix)
         +- DocumentNotFound    no such document in a collection the caller may see

Messages never quote a document's text or a query.
"""

from __future__ import annotations

from bastion.datasources.sources import SourceError

__all__ = ["DocumentError", "DocumentNotFound"]


class DocumentError(SourceError):
    """A document or a search could not be handled; the message says what to fix."""


class DocumentNotFound(DocumentError):
    """No such document (or not in a collection the caller may see)."""

    def __init__(self) -> None:
        super().__init__("no such document")
