"""The identifier table behind :mod:`bastion.dlp._national`: per entity type its
candidate shapes, python-stdnum validator, context words and scores.

A :class:`Form` is one written shape of an identifier (compact, or grouped the way its
country writes it) with the score it gets without a context word (``None``: the form is
only reported after one) and with one. Every pattern is wrapped in the same boundaries:
not inside a word, a decimal, a dotted/dashed/space-grouped longer number, or after
``+`` (a phone number's country code).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stdnum.au import abn, acn, tfn
from stdnum.be import nn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import nie, nif
from stdnum.eu import vat
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale, iva
from stdnum.kr import rrn
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import itin, rtn

from bastion.dlp.entities import EntityType

__all__ = ["CONTEXT_CHARS", "SPECS", "Form", "Spec"]

CONTEXT_CHARS = 40
"""How far before a candidate a context word may end."""

CTX = 0.95
_SEPARATORS = str.maketrans("", "", " .-/")

# Not inside a word, not after a phone's "+", not continuing a longer number written
# with separators ("1.5", "12-34", "12 34"); the same on the right.
_LEFT = r"(?<![\w+])(?<!\d[ .,/-])"
_RIGHT = r"(?!\w)(?![ .,/-]\d)"

_EU_PREFIXES = "AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI"


@dataclass(frozen=True, slots=True)
class Form:
    pattern: re.Pattern[str]
    free_score: float | None
    ctx_score: float = CTX


@dataclass(frozen=True, slots=True)
class Spec:
    """One identifier: ``validator(compact(value))`` is stdnum's ``is_valid``."""

    entity: EntityType
    validator: Callable[[str], bool]
    context: re.Pattern[str]
    forms: tuple[Form, ...]
    keep_separators: bool = False  # stdnum needs them (HETU's century sign)
    trim: bool = False  # retry shorter at separators (a VAT number before other caps)

    def compact(self, value: str) -> str:
        return value if self.keep_separators else value.translate(_SEPARATORS)


def _form(body: str, free_score: float | None = None, ctx_score: float = CTX) -> Form:
    return Form(re.compile(f"{_LEFT}(?:{body}){_RIGHT}"), free_score, ctx_score)


def _words(phrase: str) -> str:
    return re.escape(phrase).replace(r"\ ", r"\s+")


def _context(acronyms: Sequence[str] = (), phrases: Sequence[str] = ()) -> re.Pattern[str]:
    """Acronyms match case-sensitively as whole words ("SIN", not "sin"); phrases match
    in any case at the start of a word ("rijksregister" in "Rijksregisternummer")."""
    parts = []
    if acronyms:
        names = "|".join(map(_words, acronyms))
        parts.append(rf"(?<![A-Za-z])(?:{names})s?(?![A-Za-z])")
    if phrases:
        parts.append(rf"(?i:(?<![^\W\d_])(?:{'|'.join(map(_words, phrases))}))")
    return re.compile("|".join(parts))


# 01-12, or 20-99 for an unknown month (never 00 or 13-19).
_NIR_MONTH = r"(?:0[1-9]|1[0-2]|[2-9]\d)"
_TAX_ID = ("tax id", "tax identification", "taxpayer id", "tax number", "tax no")

SPECS: tuple[Spec, ...] = (
    Spec(
        EntityType.US_ITIN,
        itin.is_valid,
        _context(["ITIN", "TIN"], ["individual taxpayer", *_TAX_ID]),
        (_form(r"9\d{2}-\d{2}-\d{4}", 0.8), _form(r"9\d{2}( ?)\d{2}\1\d{4}", ctx_score=0.9)),
    ),
    Spec(
        EntityType.UK_NHS,
        nhs.is_valid,
        _context(["NHS"], ["national health service", "health service number"]),
        (_form(r"\d{3}([ -]?)\d{3}\1\d{4}"),),
    ),
    Spec(
        EntityType.ES_NIF,
        nif.is_valid,
        _context(["NIF", "DNI", "N.I.F.", "D.N.I."], ["documento nacional", "identificación fisc"]),
        (_form(r"\d{8}-?[A-Z]|[KLM]-?\d{7}-?[A-Z]", 0.8),),
    ),
    Spec(
        EntityType.ES_NIE,
        nie.is_valid,
        _context(["NIE", "N.I.E."], ["identidad de extranjero", "identificación de extranjero"]),
        (_form(r"[XYZ]-?\d{7}-?[A-Z]", 0.8),),
    ),
    Spec(
        EntityType.IT_FISCAL_CODE,
        codicefiscale.is_valid,
        _context(["CF", "C.F."], ["codice fiscale", "cod. fisc", "fiscal code", "tax code"]),
        (
            _form(
                r"[A-Z]{6}[\dLMNPQRSTUV]{2}[ABCDEHLMPRST][\dLMNPQRSTUV]{2}[A-Z][\dLMNPQRSTUV]{3}[A-Z]",
                0.85,
            ),
        ),
    ),
    Spec(
        EntityType.IT_VAT_CODE,
        iva.is_valid,
        _context(["IVA", "P.IVA", "P. IVA", "P.I.", "VAT"], ["partita iva"]),
        (_form(r"\d{11}", ctx_score=0.9),),  # "IT 0074..." is EU_VAT's, scored higher
    ),
    Spec(
        EntityType.PL_PESEL,
        pesel.is_valid,
        _context(["PESEL"]),
        (_form(r"\d{11}"),),
    ),
    Spec(
        EntityType.FI_PERSONAL_IDENTITY_CODE,
        hetu.is_valid,
        _context(["HETU"], ["henkilötunnus", "personal identity code", "sosiaaliturvatunnus"]),
        (_form(r"[0-3]\d[01]\d{3}[-+A-FU-Y]\d{3}[\dA-FHJ-NPR-Y]", 0.85),),
        keep_separators=True,
    ),
    Spec(
        EntityType.AU_ABN,
        abn.is_valid,
        _context(["ABN"], ["australian business number"]),
        (_form(r"\d{2}( ?)\d{3}\1\d{3}\1\d{3}"),),
    ),
    Spec(
        EntityType.AU_ACN,
        acn.is_valid,
        _context(["ACN"], ["australian company number"]),
        (_form(r"\d{3}( ?)\d{3}\1\d{3}"),),
    ),
    Spec(
        EntityType.AU_TFN,
        tfn.is_valid,
        _context(["TFN"], ["tax file number", "tax file no"]),
        (_form(r"\d{3}( ?)\d{3}\1\d{2,3}"),),
    ),
    Spec(
        EntityType.IN_AADHAAR,
        aadhaar.is_valid,
        _context(["UIDAI"], ["aadhaar", "aadhar", "आधार"]),
        (_form(r"[2-9]\d{3}([ -]?)\d{4}\1\d{4}"),),
    ),
    Spec(
        EntityType.IN_PAN,
        pan.is_valid,
        _context(["PAN"], ["permanent account number", "income tax"]),
        (_form(r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]", 0.7),),
    ),
    Spec(
        EntityType.KR_RRN,
        rrn.is_valid,
        _context(["RRN"], ["resident registration", "주민등록", "주민번호", "외국인등록"]),
        (_form(r"\d{6}-\d{7}", 0.85), _form(r"\d{13}", ctx_score=0.9)),
    ),
    Spec(
        EntityType.DE_TAX_ID,
        idnr.is_valid,
        _context(
            ["IdNr", "Steuer-ID", "Steuer-IdNr", "St-IdNr", "TIN"],
            ["steuerid", "steuer-id", "steuerliche ident", "identifikationsnummer", *_TAX_ID],
        ),
        (_form(r"\d{2}( ?)\d{3}\1\d{3}\1\d{3}"),),
    ),
    Spec(
        EntityType.FR_NIR,
        nir.is_valid,
        _context(
            ["NIR", "INSEE", "NSS"],
            ["sécurité sociale", "securite sociale", "numéro de sécu", "social security"],
        ),
        (
            _form(rf"[1278] \d{{2}} {_NIR_MONTH} (?:\d{{2}}|2[AB]) \d{{3}} \d{{3}} \d{{2}}", 0.85),
            _form(rf"[1278]\d{{2}}{_NIR_MONTH}(?:\d{{2}}|2[AB])\d{{8}}", 0.7),
        ),
    ),
    Spec(
        EntityType.NL_BSN,
        bsn.is_valid,
        _context(["BSN"], ["burgerservicenummer", "sofinummer", "sofi-nummer"]),
        (_form(r"\d{4}\.\d{2}\.\d{3}"), _form(r"\d{3}([ .-]?)\d{3}\1\d{3}")),
    ),
    Spec(
        EntityType.CA_SIN,
        sin.is_valid,
        _context(["SIN"], ["social insurance", "assurance sociale"]),  # not NAS (storage)
        (_form(r"\d{3}([ -]?)\d{3}\1\d{3}"),),
    ),
    Spec(
        EntityType.BR_CPF,
        cpf.is_valid,
        _context(["CPF"], ["cadastro de pessoas", "cadastro de pessoa"]),
        (_form(r"\d{3}\.\d{3}\.\d{3}-\d{2}", 0.8), _form(r"\d{11}")),
    ),
    Spec(
        EntityType.SE_PERSONAL_NUMBER,
        personnummer.is_valid,
        _context([], ["personnummer", "personnr", "samordningsnummer", "personal identity number"]),
        (
            _form(r"(?<![-/.:])\d{6}[-+]\d{4}", 0.7),
            _form(r"(?:19|20)\d{6}-?\d{4}|\d{10}", ctx_score=0.9),
        ),
    ),
    Spec(
        EntityType.DK_CPR,
        cpr.is_valid,
        _context(["CPR"], ["cpr-nr", "personnummer", "cpr-nummer"]),
        (_form(r"[0-3]\d[01]\d{3}-?\d{4}"),),
    ),
    Spec(
        EntityType.NO_BIRTH_NUMBER,
        fodselsnummer.is_valid,
        _context(["FNR"], ["fødselsnummer", "fodselsnummer", "personnummer", "national identity"]),
        (_form(r"[0-7]\d[0-5]\d{3}[ -]\d{5}", 0.8), _form(r"[0-7]\d[0-5]\d{8}")),
    ),
    Spec(
        EntityType.BE_NATIONAL_NUMBER,
        nn.is_valid,
        _context(
            ["NISS", "INSZ", "RRN"],
            ["rijksregister", "registre national", "numéro national", "national number"],
        ),
        (
            _form(r"\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}", 0.8),
            _form(r"\d{6}[ -]?\d{3}[ .-]?\d{2}|\d{2} \d{2} \d{2} \d{3} \d{2}"),
        ),
    ),
    Spec(
        EntityType.EU_VAT,
        vat.is_valid,
        _context(
            ["VAT", "TVA", "BTW", "IVA", "UID", "NIP", "MwSt", "USt", "USt-IdNr", "USt-ID"],
            ["vat number", "vat no", "vat id", "umsatzsteuer", "intracommunautaire"],
        ),
        (_form(rf"(?:{_EU_PREFIXES}) ?[0-9A-Z]{{1,14}}(?:[ .-][0-9A-Z]{{1,12}}){{0,4}}", 0.8),),
        trim=True,
    ),
    Spec(
        EntityType.ABA_ROUTING_NUMBER,
        rtn.is_valid,
        _context(["ABA", "RTN"], ["routing number", "routing no", "routing #", "transit number"]),
        (_form(r"(?:0\d|1[0-2]|2[1-9]|3[0-2]|6[1-9]|7[0-2]|80)\d{7}"),),
    ),
)
