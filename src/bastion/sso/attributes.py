"""From an IdP's claims (OIDC) or attributes (SAML) to a user's attributes.

A provider's table maps attribute names to claim names::

    [sso.oidc]
    attributes = { region = "region", cost_center = "extension_costCenter" }

At each sign-in the mapped claims are read (:func:`map_attributes`): a claim holding
one string becomes the attribute; a list, a number, a boolean or a value that breaks
the attribute rules (:mod:`bastion.identity.attributes`) is refused, and so is a
missing claim. The IdP is the source of truth for the names it maps: a refused or
missing one is removed from the user, so a stale value cannot outlive the IdP's
change. Attributes nobody mapped (set by an admin) are left alone, and claims that are
not mapped never become attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bastion.identity.attributes import InvalidAttributes, check_one
from bastion.sso.identity import SsoIdentity

__all__ = ["MappedAttributes", "map_attributes", "validate_attribute_mapping"]


@dataclass(frozen=True, slots=True)
class MappedAttributes:
    """What a sign-in sets; the mapped names whose claim was refused (logged by name)
    or absent: both are removed from the user."""

    values: Mapping[str, str]
    refused: tuple[str, ...]
    absent: tuple[str, ...]

    @property
    def removed(self) -> tuple[str, ...]:
        return self.refused + self.absent


def validate_attribute_mapping(mapping: object, *, where: str) -> dict[str, str]:
    """``mapping`` (attribute name -> claim name), checked; ValueError names the key."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where}.attributes must be a table of attribute = claim name")
    checked: dict[str, str] = {}
    for name, claim in mapping.items():
        try:
            check_one(name, "")
        except InvalidAttributes as exc:
            raise ValueError(f"{where}.attributes: {exc}") from None
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError(f"{where}.attributes.{name} must name a claim (a non-empty string)")
        checked[name] = claim
    return checked


def map_attributes(identity: SsoIdentity, mapping: Mapping[str, str]) -> MappedAttributes:
    """The attributes ``identity`` sets under ``mapping``; see the module docstring."""
    values: dict[str, str] = {}
    refused: list[str] = []
    absent: list[str] = []
    for name, claim in mapping.items():
        found = identity.attributes.get(claim, ())
        if not found and claim not in identity.not_single:
            absent.append(name)
            continue
        if claim in identity.not_single or len(found) != 1:
            refused.append(name)
            continue
        try:
            check_one(name, found[0])
        except InvalidAttributes:
            refused.append(name)
            continue
        values[name] = found[0]
    return MappedAttributes(values, tuple(sorted(refused)), tuple(sorted(absent)))
