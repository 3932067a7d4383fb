"""What the executive order and the state's sensitive-locations rule say about a report's place.

Pure functions over an incident's enrichment (the places around it, computed
from the map layers when it was reported).
"""

from __future__ import annotations

from typing import Any

RULE_CITY_PROPERTY = (
    "Executive order: federal agents may not use city property (buildings, parks, parking lots) "
    "as a staging area or operations base without a court order"
)
RULE_MUNICIPAL_BUILDING = (
    "Executive order: federal agents may not enter nonpublic areas of municipal buildings "
    "without a judicial warrant"
)
RULE_SENSITIVE_SITE = (
    "State law: sensitive location (school, place of worship, courthouse, daycare, hospital)"
)
# Footage around the report that the order's footage provision asks the city to keep.
FOOTAGE_WINDOW_BEFORE_S = 30 * 60
FOOTAGE_WINDOW_AFTER_S = 30 * 60
FOOTAGE_KINDS = ("use_of_force", "property_damage")


def _places(enrichment: dict[str, Any], key: str, place_type: str, rule: str) -> list[dict[str, Any]]:
    return [
        {
            "name": place.get("name", ""),
            "layer": place.get("layer", ""),
            "category": place.get("category", ""),
            "place_type": place_type,
            "rule": rule,
            "distance_m": place.get("distance_m", 0.0),
        }
        for place in enrichment.get(key, [])
    ]


def compliance_places(kind: str, enrichment: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the places (and the rule each touches) that make this report an alert."""
    if not enrichment:
        return []
    if kind == "federal_activity":
        return (
            _places(enrichment, "city_property", "city_property", RULE_CITY_PROPERTY)
            + _places(enrichment, "municipal_buildings", "municipal_building", RULE_MUNICIPAL_BUILDING)
            + _places(enrichment, "sensitive_sites", "sensitive_site", RULE_SENSITIVE_SITE)
        )
    if kind == "warrantless_entry":
        return _places(enrichment, "municipal_buildings", "municipal_building", RULE_MUNICIPAL_BUILDING)
    return []


def needs_footage(kind: str, federal_involved: bool) -> bool:
    """Force or damage involving federal agents: the footage must be preserved."""
    return federal_involved and kind in FOOTAGE_KINDS
