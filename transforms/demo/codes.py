"""The code lists of the demo's CAD and RMS: call types, dispositions, priorities and NIBRS offences."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class CallType(NamedTuple):
    priority: str  # metro priority: E, 1..5
    metro_weight: float  # relative weight among metro community-generated calls
    county_weight: float  # relative weight among county community-generated calls
    p_incident: float  # P(an RMS incident is written)
    p_arrest: float  # P(arrest | incident)
    offences: dict[str, float]  # NIBRS offence code -> weight, for the incidents it produces


CALL_TYPES: dict[str, CallType] = {
    "BURG": CallType("2", 0.0, 1.5, 0.85, 0.08, {"220": 1}),  # metro burglaries come from the near-repeat process
    "THEFT": CallType("3", 11.0, 2.5, 0.70, 0.12, {"23H": 0.5, "23F": 0.3, "23C": 0.2}),
    "ASLT": CallType("1", 3.5, 1.0, 0.75, 0.35, {"13B": 0.74, "13A": 0.25, "09A": 0.01}),
    "DV": CallType("1", 4.0, 1.5, 0.75, 0.50, {"13B": 0.6, "13C": 0.25, "13A": 0.15}),
    "ROB": CallType("1", 0.8, 0.1, 0.90, 0.20, {"120": 1}),
    "SHOTS": CallType("E", 1.2, 0.8, 0.30, 0.20, {"520": 0.7, "13A": 0.27, "09A": 0.03}),
    "SUSP": CallType("2", 7.0, 2.0, 0.06, 0.30, {"90J": 0.5, "35A": 0.5}),
    "SUSPV": CallType("2", 4.0, 1.5, 0.05, 0.30, {"240": 0.5, "35A": 0.5}),
    "ALARM": CallType("2", 7.0, 2.0, 0.0, 0.0, {}),
    "NOISE": CallType("4", 5.0, 1.0, 0.0, 0.0, {}),
    "DIST": CallType("3", 9.0, 2.0, 0.20, 0.40, {"90C": 0.6, "13C": 0.4}),
    "WELF": CallType("2", 6.0, 2.0, 0.0, 0.0, {}),
    "MH": CallType("2", 3.0, 0.8, 0.0, 0.0, {}),
    "MED": CallType("1", 3.0, 1.0, 0.0, 0.0, {}),
    "TC": CallType("2", 5.0, 4.0, 0.03, 0.60, {"90D": 1}),
    "TS": CallType("3", 0.0, 0.0, 0.03, 0.60, {"90D": 0.8, "35A": 0.2}),
    "PC": CallType("5", 0.0, 0.0, 0.0, 0.0, {}),
    "FI": CallType("4", 0.0, 0.0, 0.05, 0.70, {"35A": 0.5, "520": 0.5}),
    "PATROL": CallType("5", 0.0, 0.0, 0.0, 0.0, {}),
    "ADMIN": CallType("5", 0.0, 0.0, 0.0, 0.0, {}),  # officer-initiated (crosswalk origin = officer)
    "FIRE": CallType("1", 0.6, 0.8, 0.35, 0.10, {"200": 1}),
    "VAND": CallType("3", 4.0, 1.5, 0.75, 0.10, {"290": 1}),
    "TRESP": CallType("3", 4.0, 1.5, 0.45, 0.50, {"90J": 1}),
    "DRUG": CallType("3", 1.2, 0.3, 0.60, 0.60, {"35A": 1}),
    "FRAUD": CallType("4", 3.0, 1.0, 0.80, 0.05, {"26A": 1}),
    "VEHTHEFT": CallType("2", 2.5, 1.0, 0.90, 0.05, {"240": 1}),
    "PARK": CallType("4", 4.0, 0.5, 0.0, 0.0, {}),
    "ANIMAL": CallType("4", 2.0, 3.0, 0.0, 0.0, {}),
    "CIVIL": CallType("4", 3.0, 1.5, 0.0, 0.0, {}),
    "911HU": CallType("2", 4.5, 1.5, 0.0, 0.0, {}),
    "ASSIST": CallType("4", 2.0, 2.0, 0.0, 0.0, {}),
    "JUV": CallType("3", 2.0, 0.5, 0.15, 0.30, {"90C": 0.5, "290": 0.5}),
    "SEXOFF": CallType("1", 0.4, 0.15, 0.85, 0.25, {"11A": 0.7, "36B": 0.3}),
    "MISSING": CallType("2", 1.0, 0.3, 0.0, 0.0, {}),
    "LOST": CallType("5", 1.0, 0.3, 0.0, 0.0, {}),
    "XYZ9": CallType("3", 0.0, 0.0, 0.0, 0.0, {}),  # retired code, deliberately absent from the crosswalk
}
# Call types are held as integer indexes into CALL_TYPE_CODES.
CALL_TYPE_CODES = list(CALL_TYPES)
TYPE_INDEX = {t: i for i, t in enumerate(CALL_TYPE_CODES)}
TYPE_PRIORITY = np.array([CALL_TYPES[t].priority for t in CALL_TYPE_CODES], dtype=object)
TYPE_P_INCIDENT = np.array([CALL_TYPES[t].p_incident for t in CALL_TYPE_CODES])
TYPE_P_ARREST = np.array([CALL_TYPES[t].p_arrest for t in CALL_TYPE_CODES])
OFFICER_TYPES = ("TS", "PC", "FI", "PATROL", "ADMIN")  # always on-view; SUSP/DRUG sometimes
OFFICER_MIX_METRO = {"TS": 50, "PATROL": 20, "PC": 10, "FI": 6, "SUSP": 4, "DRUG": 3, "ADMIN": 3}
OFFICER_MIX_COUNTY = {"TS": 60, "PATROL": 25, "PC": 10, "SUSP": 5, "ADMIN": 3}
# initial type -> the types it may be reclassified to (others: DIST or SUSP)
RECLASSIFIED_AS = {"SUSP": ["TRESP", "DRUG", "DIST"], "DIST": ["ASLT", "DV", "NOISE"], "THEFT": ["FRAUD", "VAND"],
                   "ALARM": ["SUSP"], "WELF": ["MH", "MED"], "911HU": ["DV", "WELF"], "NOISE": ["DIST"],
                   "SUSPV": ["VEHTHEFT", "DRUG"], "ASLT": ["DV", "DIST"], "TC": ["PARK"], "MH": ["WELF"],
                   "VAND": ["THEFT"], "TRESP": ["SUSP"], "JUV": ["DIST"], "MISSING": ["WELF"]}

# Dispositions are held as integer indexes into DISPOSITIONS.
DISPOSITIONS = ["ARR", "CIT", "RPT", "ADV", "HAN", "GOA", "UTL", "UNF", "REF", "CAN", "DUP", "NR", "VOID"]
DISPOSITION_INDEX = {d: i for i, d in enumerate(DISPOSITIONS)}
COUNTY_PRIORITY = {"E": "P1", "1": "P1", "2": "P2", "3": "P3", "4": "P4", "5": "P4"}  # metro -> county

OFFENSES = {
    "09A": "MURDER & NONNEGLIGENT MANSLAUGHTER", "11A": "RAPE", "120": "ROBBERY",
    "13A": "AGGRAVATED ASSAULT", "13B": "SIMPLE ASSAULT", "13C": "INTIMIDATION",
    "220": "BURGLARY/BREAKING & ENTERING", "23F": "THEFT FROM MOTOR VEHICLE",
    "23H": "ALL OTHER LARCENY", "23C": "SHOPLIFTING", "240": "MOTOR VEHICLE THEFT", "200": "ARSON",
    "290": "DESTRUCTION/DAMAGE/VANDALISM OF PROPERTY", "35A": "DRUG/NARCOTIC VIOLATIONS",
    "520": "WEAPON LAW VIOLATIONS", "26A": "FALSE PRETENSES/SWINDLE/CONFIDENCE GAME",
    "90C": "DISORDERLY CONDUCT", "90D": "DRIVING UNDER THE INFLUENCE", "90J": "TRESPASS OF REAL PROPERTY",
    "36B": "STATUTORY RAPE",
}
SOCIETY_OFFENSES = {"35A", "520", "90C", "90D", "90J"}  # no individual victim
WINDOW_OFFENSES = {"220", "23F", "23H", "240", "290"}  # occurred over a window before discovery
SECONDARY_OFFENSES = ["290", "13C", "35A", "520", "23H", "90C", "13B", "90J"]
ONLINE_MIX = {"23H": 0.4, "26A": 0.3, "290": 0.15, "23F": 0.15}  # RMS-only (online/front counter)


def draw_types(rng, mix: dict[str, float], n: int) -> np.ndarray:
    """n call-type indexes drawn from a {code: weight} mix."""
    keys = list(mix)
    w = np.array([mix[k] for k in keys], float)
    return np.array([TYPE_INDEX[k] for k in keys])[rng.choice(len(keys), size=n, p=w / w.sum())]


def community_mix(county: bool = False) -> dict[str, float]:
    """The {code: weight} mix of community-generated calls of one agency."""
    weights = {t: v.county_weight if county else v.metro_weight for t, v in CALL_TYPES.items()}
    return {t: w for t, w in weights.items() if w > 0}


def p_intersection(call_type: np.ndarray) -> np.ndarray:
    """Probability a call is geocoded to an intersection, by call type (~10% overall)."""
    p = np.full(len(call_type), 0.04)
    p[call_type == TYPE_INDEX["TS"]] = 0.40
    p[call_type == TYPE_INDEX["TC"]] = 0.60
    p[np.isin(call_type, [TYPE_INDEX["SUSPV"], TYPE_INDEX["PARK"], TYPE_INDEX["SHOTS"]])] = 0.15
    return p
