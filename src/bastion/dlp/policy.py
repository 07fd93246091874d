"""DLP policy: a classification label per entity type, an action per label and
direction, and per-entity overrides; parsed from a policy's ``[scanners.pii]`` table.

Labels: ``public``, ``internal``, ``confidential``, ``restricted``. Directions:
``to_model`` (what users and tools send) and ``to_user`` (what the model answers).

Defaults (a tenant overrides any of them):

| entity | label |
|---|---|
| EMAIL_ADDRESS, PHONE_NUMBER, DATE_OF_BIRTH | confidential |
| CREDIT_CARD, IBAN_CODE, US_SSN, SECRET | restricted |
| personal ids: US_ITIN, UK_NHS, ES_NIF, ES_NIE, IT_FISCAL_CODE, PL_PESEL | restricted |
| FI_PERSONAL_IDENTITY_CODE, AU_TFN, IN_AADHAAR, IN_PAN, KR_RRN, DE_TAX_ID | restricted |
| FR_NIR, NL_BSN, CA_SIN, BR_CPF, SE_PERSONAL_NUMBER, DK_CPR, NO_BIRTH_NUMBER | restricted |
| BE_NATIONAL_NUMBER | restricted |
| STREET_ADDRESS, PERSON | confidential |
| IP_ADDRESS | internal |
| public business ids: AU_ABN, AU_ACN, IT_VAT_CODE, EU_VAT, ABA_ROUTING_NUMBER | internal |

| label | to_model | to_user |
|---|---|---|
| public, internal | allow | allow |
| confidential | pseudonymize | allow |
| restricted | pseudonymize | mask |

So personal data reaches the model only as placeholders (``<EMAIL_1>``) that the
gateway turns back into the caller's own values in the answer, and a card or SSN the
model produces from elsewhere reaches the user masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from bastion.dlp.entities import EntityType
from bastion.dlp.operators import Action

__all__ = ["DIRECTIONS", "LABELS", "Direction", "DlpPolicy", "parse_dlp_options"]

Direction = Literal["to_model", "to_user"]
DIRECTIONS: tuple[Direction, ...] = ("to_model", "to_user")
LABELS = ("public", "internal", "confidential", "restricted")

_DEFAULT_LABELS: Mapping[EntityType, str] = MappingProxyType(
    {
        EntityType.EMAIL_ADDRESS: "confidential",
        EntityType.PHONE_NUMBER: "confidential",
        EntityType.DATE_OF_BIRTH: "confidential",
        EntityType.CREDIT_CARD: "restricted",
        EntityType.IBAN_CODE: "restricted",
        EntityType.US_SSN: "restricted",
        EntityType.IP_ADDRESS: "internal",
        EntityType.STREET_ADDRESS: "confidential",
        EntityType.PERSON: "confidential",
        EntityType.SECRET: "restricted",
        EntityType.US_ITIN: "restricted",
        EntityType.UK_NHS: "restricted",
        EntityType.ES_NIF: "restricted",
        EntityType.ES_NIE: "restricted",
        EntityType.IT_FISCAL_CODE: "restricted",
        EntityType.IT_VAT_CODE: "internal",
        EntityType.PL_PESEL: "restricted",
        EntityType.FI_PERSONAL_IDENTITY_CODE: "restricted",
        EntityType.AU_ABN: "internal",
        EntityType.AU_ACN: "internal",
        EntityType.AU_TFN: "restricted",
        EntityType.IN_AADHAAR: "restricted",
        EntityType.IN_PAN: "restricted",
        EntityType.KR_RRN: "restricted",
        EntityType.DE_TAX_ID: "restricted",
        EntityType.FR_NIR: "restricted",
        EntityType.NL_BSN: "restricted",
        EntityType.CA_SIN: "restricted",
        EntityType.BR_CPF: "restricted",
        EntityType.SE_PERSONAL_NUMBER: "restricted",
        EntityType.DK_CPR: "restricted",
        EntityType.NO_BIRTH_NUMBER: "restricted",
        EntityType.BE_NATIONAL_NUMBER: "restricted",
        EntityType.EU_VAT: "internal",
        EntityType.ABA_ROUTING_NUMBER: "internal",
    }
)
_DEFAULT_ACTIONS: Mapping[Direction, Mapping[str, Action]] = MappingProxyType(
    {
        "to_model": MappingProxyType(
            {
                "public": Action.ALLOW,
                "internal": Action.ALLOW,
                "confidential": Action.PSEUDONYMIZE,
                "restricted": Action.PSEUDONYMIZE,
            }
        ),
        "to_user": MappingProxyType(
            {
                "public": Action.ALLOW,
                "internal": Action.ALLOW,
                "confidential": Action.ALLOW,
                "restricted": Action.MASK,
            }
        ),
    }
)
OPTION_KEYS = ("labels", "to_model", "to_user", "entities", "region", "names")
_MODEL_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,200}")


@dataclass(frozen=True, slots=True)
class DlpPolicy:
    """The action for each entity type in each direction (resolved once)."""

    actions: Mapping[Direction, Mapping[EntityType, Action]]
    labels: Mapping[EntityType, str]
    region: str = "US"
    # Person names (the ner extra): off, on with the default model (""), or a model.
    names: str | None = None

    def action(self, direction: Direction, entity: EntityType) -> Action:
        return self.actions[direction][entity]

    @property
    def uses_hash(self) -> bool:
        """Whether any entity is hashed in either direction (the gateway then hands the
        scanner the tenant's hash key)."""
        return any(a is Action.HASH for by in self.actions.values() for a in by.values())


def _table(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"pii: option {name!r} must be a table")
    return value


def _entity(name: str, key: str) -> EntityType:
    try:
        return EntityType(key)
    except ValueError:
        known = ", ".join(t.value for t in EntityType)
        raise ValueError(f"pii: {name}: unknown entity type {key!r:.40} (known: {known})") from None


def _label(name: str, value: Any) -> str:
    if value not in LABELS:
        raise ValueError(f"pii: {name}: unknown label {value!r:.40} (labels: {', '.join(LABELS)})")
    return str(value)


def _action(name: str, value: Any) -> Action:
    try:
        action = Action(value)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise ValueError(f"pii: {name}: unknown action {value!r:.40} (actions: {known})") from None
    return action


def parse_dlp_options(options: Mapping[str, Any]) -> DlpPolicy:
    """The policy of ``options`` (the ``[scanners.pii]`` table); a ValueError names the
    option and the bad value (cut short) on anything unknown."""
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ValueError(
            f"pii: unknown option {unknown[0]!r:.40} (options: {', '.join(OPTION_KEYS)})"
        )
    labels = dict(_DEFAULT_LABELS)
    for key, value in _table("labels", options.get("labels", {})).items():
        entity = _entity("labels", key)
        labels[entity] = _label(f"labels.{key}", value)
    by_label: dict[Direction, dict[str, Action]] = {}
    for direction in DIRECTIONS:
        chosen = dict(_DEFAULT_ACTIONS[direction])
        for key, value in _table(direction, options.get(direction, {})).items():
            chosen[_label(direction, key)] = _action(f"{direction}.{key}", value)
        by_label[direction] = chosen
    actions: dict[Direction, dict[EntityType, Action]] = {
        direction: {entity: by_label[direction][labels[entity]] for entity in EntityType}
        for direction in DIRECTIONS
    }
    for key, value in _table("entities", options.get("entities", {})).items():
        entity = _entity("entities", key)
        for side, action in _table(f"entities.{key}", value).items():
            matching = [d for d in DIRECTIONS if d == side]
            if not matching:
                raise ValueError(f"pii: entities.{key}: unknown direction {side!r:.40}")
            actions[matching[0]][entity] = _action(f"entities.{key}.{side}", action)
    region = options.get("region", "US")
    if not isinstance(region, str) or len(region) != 2 or not region.isalpha():
        raise ValueError("pii: option 'region' must be a two-letter country code")
    return DlpPolicy(
        {d: MappingProxyType(a) for d, a in actions.items()},
        MappingProxyType(labels),
        region.upper(),
        _names(options.get("names", False)),
    )


def _names(value: Any) -> str | None:
    """``names``: false (off), true (the default English model) or a spaCy model."""
    if value is False:
        return None
    if value is True:
        return ""
    if isinstance(value, str) and _MODEL_NAME.fullmatch(value):
        return value
    raise ValueError("pii: option 'names' must be true, false or a spaCy model package name")
