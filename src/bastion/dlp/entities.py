"""Entity types and the finding every DLP detector returns.

Type names follow Presidio's (``EMAIL_ADDRESS``, ``CREDIT_CARD``, ``IBAN_CODE``...) so
labeled data in Presidio's format, and users' existing policies, read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EntityType", "PiiFinding"]


class EntityType(StrEnum):
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN_CODE = "IBAN_CODE"
    US_SSN = "US_SSN"
    IP_ADDRESS = "IP_ADDRESS"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    STREET_ADDRESS = "STREET_ADDRESS"
    PERSON = "PERSON"
    SECRET = "SECRET"  # noqa: S105 (an entity type name, not a password)
    # National, tax and business identifiers (bastion.dlp._national); Presidio's names
    # where it has the type.
    US_ITIN = "US_ITIN"
    UK_NHS = "UK_NHS"
    ES_NIF = "ES_NIF"
    ES_NIE = "ES_NIE"
    IT_FISCAL_CODE = "IT_FISCAL_CODE"
    IT_VAT_CODE = "IT_VAT_CODE"
    PL_PESEL = "PL_PESEL"
    FI_PERSONAL_IDENTITY_CODE = "FI_PERSONAL_IDENTITY_CODE"
    AU_ABN = "AU_ABN"
    AU_ACN = "AU_ACN"
    AU_TFN = "AU_TFN"
    IN_AADHAAR = "IN_AADHAAR"
    IN_PAN = "IN_PAN"
    KR_RRN = "KR_RRN"
    DE_TAX_ID = "DE_TAX_ID"
    FR_NIR = "FR_NIR"
    NL_BSN = "NL_BSN"
    CA_SIN = "CA_SIN"
    BR_CPF = "BR_CPF"
    SE_PERSONAL_NUMBER = "SE_PERSONAL_NUMBER"
    DK_CPR = "DK_CPR"
    NO_BIRTH_NUMBER = "NO_BIRTH_NUMBER"
    BE_NATIONAL_NUMBER = "BE_NATIONAL_NUMBER"
    EU_VAT = "EU_VAT"
    ABA_ROUTING_NUMBER = "ABA_ROUTING_NUMBER"


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One detected entity: ``text[start:end]`` is the value, ``score`` in (0, 1] the
    detector's confidence. The repr never shows the value (it is personal data)."""

    type: EntityType
    start: int
    end: int
    score: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError("a finding needs 0 <= start < end")
        if not 0.0 < self.score <= 1.0:
            raise ValueError("a finding's score must be in (0, 1]")
