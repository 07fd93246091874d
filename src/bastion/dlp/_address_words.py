"""Word lists for the street-address detector (:mod:`bastion.dlp._address`).

All lists are immutable; lookups are on lowercased words with a trailing dot removed
unless the dot is part of the listed abbreviation ("u.", "ul.", "avda.").
"""

from __future__ import annotations

__all__ = [
    "CAPITALISED",
    "COUNTER_WORDS",
    "COUNTRIES",
    "CZECH_ENDINGS",
    "DIRECTIONS",
    "EN_SUFFIXES",
    "EN_WEAK_SUFFIXES",
    "GLUED_EXCLUDED",
    "GLUED_SUFFIXES",
    "LETTER",
    "NEEDS_PARTICLE_PREFIXES",
    "ORDINAL",
    "PARTICLES",
    "PREFIXES",
    "SEPARATE_SUFFIXES",
    "STOP_WORDS",
    "UNIT_WORDS",
    "UPPER",
    "WEAK_SEPARATE_SUFFIXES",
    "YEAR_CONTEXT",
]


def _split(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Regular-expression fragments shared by the address modules.
LETTER = r"[^\W\d_]"
UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĘĚĞİĶĹĽŁŃŇŌŐŒŔŘŚŞŠŢŤŪŮŰŹŻŽΆΈ-ΏΑ-ΩЁА-Я"  # a character class body
# A capitalised word: "O'Connell", "Saint-Denis", "St.", "MAIN".
CAPITALISED = rf"[{UPPER}]{LETTER}*(?:['’.-]{LETTER}+){{0,3}}\.?(?!\w)"
ORDINAL = r"\d{1,3}(?:st|nd|rd|th|ST|ND|RD|TH)"

STOP_WORDS = _set("a an the and or of in on at to for from with by per than times days years")
# Words that make the number after them a counter, not a house number ("Chapter 11
# Bankruptcy Court", "Section 230 Supreme Court").
COUNTER_WORDS = _set(
    """chapter chapters section sections article articles page pages version step steps
    episode season part volume vol. level phase round figure fig. table item rule title
    class grade top number no. verse act scene book issue exhibit appendix clause"""
)
YEAR_CONTEXT = _set("in since of from by until before after year circa around")

# English street types that follow the name ("42 Wallaby Way"). Common nouns that are
# also street types only in generated data ("Point", "Union", "Mill") are weak: they
# need more evidence (a unit, a ZIP or a country after them, or a context word).
EN_SUFFIXES: frozenset[str] = (
    _set("""street st avenue ave av road rd boulevard blvd lane ln drive dr court ct place pl
    way terrace tce parkway pkwy highway hwy square sq crescent cres close gardens grove
    mews circle cir trail trl turnpike tpke expressway expy freeway fwy alley row
    esplanade promenade causeway quay wharf embankment broadway plaza loop gateway
    crossroad bypass""")
)
EN_WEAK_SUFFIXES: frozenset[str] = (
    _set("""creek cliffs cliff lodge hills hill heights flats greens courts extensions
    extension radial harbor harbour summit dam forks prairie mill mills islands isle
    forges forge pass fort dale parks park point points ridge valley view vista walk
    meadows meadow estates estate glen green hollow landing manor pines springs
    shores shore station stravenue track trace village ville wells""")
)
DIRECTIONS: frozenset[str] = _set("n s e w ne nw se sw north south east west")

# Street words glued to the name: German, Dutch, Danish/Norwegian, Swedish, Finnish,
# Icelandic ("Hauptstraße", "Asselsestraat", "Søndergade", "Koskikatu").
GLUED_SUFFIXES: tuple[str, ...] = tuple(
    _split("""straße strasse str. weg gasse platz allee damm chaussee
    straat laan plein gracht kade singel dijk
    vej gade stræde vænget gården allé
    gatan vägen gränd torget stigen
    veien vegen gata stien
    katu tie kuja polku väylä
    stræti straeti braut vegur""")
)
# English words that happen to end like a glued street word.
GLUED_EXCLUDED: frozenset[str] = (
    _set("""renegade blockade barricade stockade cockade sweetie bowtie necktie hogtie
    sebastien sébastien christien yamagata fujinagata""")
)
# Street words written as their own word after the name ("Villacher Strasse 89",
# "Erzsébet tér 19.", "Stensås terrasse 38").
SEPARATE_SUFFIXES: frozenset[str] = (
    _set("""strasse straße str. weg gasse platz allee vej gade straat laan plein utca u. út
    útja tér körút köz sor rkp. terrasse gata gatan vägen veien vei tänav põik cesta
    ulica sokak caddesi""")
)
# Lowercase street words that are also English words ("Trenerys gate 232"): weak.
WEAK_SEPARATE_SUFFIXES: frozenset[str] = frozenset(("gate", "vei"))
# Street words that precede the name ("Rue de Rivoli", "Via Roma 131", "ul. Słowicza 10").
PREFIXES: frozenset[str] = (
    _set("""rue rua rúa via viale vicolo piazza piazzetta corso largo strada calle c/ carrer
    avenida avda. av. avinguda paseo camino praça praca travessa estrada alameda ul.
    ulica aleja al. chemin impasse allée quai avenue boulevard bd place route""")
)
# Prefixes that are ordinary English words ("Via email 2 times", "Place 3 eggs"): they
# count only when written lowercase-free ("Via Roma 1") or, for the French ones, when
# a particle follows ("Avenue du Golf").
NEEDS_PARTICLE_PREFIXES: frozenset[str] = _set("avenue boulevard bd place route chemin quai")
PARTICLES: frozenset[str] = (
    _set("""de du des la le les da do dos das del della delle dei degli di el y e von van der
    den ter al st san santa são sao""")
)
# Czech, Slovak and Slovene street adjectives ("Pivovarská 276", "Parmova 109"): weak,
# they look like surnames.
CZECH_ENDINGS: tuple[str, ...] = ("ká", "ký", "ké", "ova", "ová", "ovo", "eva", "ého", "ího")
UNIT_WORDS: tuple[str, ...] = (
    "apt", "apartment", "suite", "ste", "unit", "flat", "floor", "fl", "room", "rm",
    "bldg", "building",
)  # fmt: skip

COUNTRIES: tuple[str, ...] = tuple(
    name.strip()
    for name in _split(
        """Afghanistan, Albania, Algeria, Andorra, Angola, Argentina, Armenia,
    Australia, Austria, Azerbaijan, Bahamas, Bahrain, Bangladesh, Barbados, Belarus,
    Belgium, Belize, Benin, Bhutan, Bolivia, Bosnia and Herzegovina, Botswana, Brazil,
    Brunei, Bulgaria, Burkina Faso, Burundi, Cambodia, Cameroon, Canada, Cape Verde,
    Chad, Chile, China, Colombia, Costa Rica, Croatia, Cuba, Cyprus, Czech Republic,
    Czechia, Denmark, Djibouti, Dominican Republic, Ecuador, Egypt, El Salvador,
    Estonia, Eswatini, Ethiopia, Fiji, Finland, France, Gabon, Gambia, Georgia, Germany,
    Ghana, Greece, Greenland, Guatemala, Guinea, Guyana, Haiti, Honduras, Hong Kong,
    Hungary, Iceland, India, Indonesia, Iran, Iraq, Ireland, Israel, Italy, Ivory Coast,
    Jamaica, Japan, Jordan, Kazakhstan, Kenya, Kosovo, Kuwait, Kyrgyzstan, Laos, Latvia,
    Lebanon, Lesotho, Liberia, Libya, Liechtenstein, Lithuania, Luxembourg, Madagascar,
    Malawi, Malaysia, Maldives, Mali, Malta, Mauritania, Mauritius, Mexico, Moldova,
    Monaco, Mongolia, Montenegro, Morocco, Mozambique, Myanmar, Namibia, Nepal,
    Netherlands, New Zealand, Nicaragua, Niger, Nigeria, North Macedonia, Norway, Oman,
    Pakistan, Panama, Papua New Guinea, Paraguay, Peru, Philippines, Poland, Portugal,
    Puerto Rico, Qatar, Romania, Russia, Rwanda, San Marino, Saudi Arabia, Senegal,
    Serbia, Seychelles, Sierra Leone, Singapore, Slovakia, Slovenia, Somalia,
    South Africa, South Korea, Spain, Sri Lanka, Sudan, Suriname, Sweden, Switzerland,
    Syria, Taiwan, Tajikistan, Tanzania, Thailand, Togo, Trinidad and Tobago, Tunisia,
    Turkey, Türkiye, Turkmenistan, Uganda, Ukraine, United Arab Emirates,
    United Kingdom, United States of America, United States, Uruguay, Uzbekistan,
    Venezuela, Vietnam, Viet Nam, Yemen, Zambia, Zimbabwe, USA, U.S.A., UK, U.K.,
    England, Scotland, Wales, Northern Ireland""",
        ",",
    )
)
