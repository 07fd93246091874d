"""Data loss prevention: personal data and secrets in what goes to and from a model.

:mod:`.entities` names the entity types and the finding every detector returns;
:mod:`.detectors` finds structured personal data (deterministic patterns with
validation: checksums, numbering-plan rules, context words).
"""

from bastion.dlp.detectors import SUPPORTED_ENTITIES, PiiDetector
from bastion.dlp.entities import EntityType, PiiFinding

__all__ = ["SUPPORTED_ENTITIES", "EntityType", "PiiDetector", "PiiFinding"]
