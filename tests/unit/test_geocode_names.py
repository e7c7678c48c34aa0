"""Street-name normalization and location parsing for the offline geocoder (transforms/warehouse/geocode/names.py)."""

from __future__ import annotations

import pytest

from transforms.warehouse.geocode.names import base_name, normalize_street, parse_location


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # suffixes
        ("Whalley Avenue", "WHALLEY AVE"),
        ("WHALLEY AV", "WHALLEY AVE"),
        ("whalley ave.", "WHALLEY AVE"),
        ("Ella T Grasso Boulevard", "ELLA T GRASSO BLVD"),
        # directionals, at either end; a lone word is a name
        ("West Water Street", "W WATER ST"),
        ("CHURCH SOUTH", "CHURCH S"),
        ("Church St South", "CHURCH ST S"),
        ("North St", "NORTH ST"),
        ("WEST", "WEST"),
        # ordinals
        ("First Avenue", "1ST AVE"),
        ("FIFTH", "5TH"),
        ("Twenty-Fourth St", "24TH ST"),
        ("TWENTY FIRST AVE", "21ST AVE"),
        # abbreviations at the start
        ("ST JOHN ST", "SAINT JOHN ST"),
        ("Mt Carmel Ave", "MOUNT CARMEL AVE"),
        ("FT HALE RD", "FORT HALE RD"),
        ("SO GENESEE ST", "S GENESEE ST"),
        # NOTE: New Haven addresses put the directional before the suffix
        ("CHURCH SOUTH ST", "CHURCH ST S"),
        ("E SOUTH ST", "E SOUTH ST"),
        # unchanged
        ("POND LILY", "POND LILY"),
        ("PARK", "PARK"),
    ],
)
def test_normalize_street(raw, expected):
    assert normalize_street(raw) == expected


def test_base_name_drops_only_the_suffix():
    assert base_name("West Water Street") == "W WATER"
    assert base_name("Church St S") == "CHURCH S" == base_name("CHURCH SOUTH")
    assert base_name("PARK") == "PARK"


@pytest.mark.parametrize(
    ("text", "kind", "number", "streets", "key"),
    [
        ("1605 WHALLEY AVE", "address", 1605, ("WHALLEY AVE",), "1605 WHALLEY AVE"),
        ("1700 Block Of Jerrold Av", "block", 1700, ("JERROLD AVE",), "1700 BLOCK JERROLD AVE"),
        ("17XX JERROLD AVE", "block", 1700, ("JERROLD AVE",), "1700 BLOCK JERROLD AVE"),
        ("0 BLOCK MAIN ST", "block", 0, ("MAIN ST",), "0 BLOCK MAIN ST"),
        ("MAIN ST / OAK AVE", "intersection", None, ("MAIN ST", "OAK AVE"), "MAIN ST / OAK AVE"),
        ("OAK AVENUE & MAIN STREET", "intersection", None, ("MAIN ST", "OAK AVE"), "MAIN ST / OAK AVE"),
        ("First Ave and Main St", "intersection", None, ("1ST AVE", "MAIN ST"), "1ST AVE / MAIN ST"),
        ("AMITY/POND LILY", "intersection", None, ("AMITY", "POND LILY"), "AMITY / POND LILY"),
        ("WELTON/INTERSECTION", "street", None, ("WELTON",), "WELTON"),
        ("Evelyn Wy", "street", None, ("EVELYN WAY",), "EVELYN WAY"),
        ("UNKNOWN", "unknown", None, (), None),
        (None, "unknown", None, (), None),
    ],
)
def test_parse_location(text, kind, number, streets, key):
    p = parse_location(text)
    assert (p.kind, p.number, p.streets, p.key) == (kind, number, streets, key)
