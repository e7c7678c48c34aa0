"""Deterministic synthetic city ("Riverton") for `sara demo`.

Writes the extracts a real CAD and RMS would deliver for a fictional city police
department (agency ``metro``) and the surrounding sheriff (agency ``county``):

* night 1: a backfill extract 2024-11-01 .. 2026-11-15 stamped 2026-11-16 02:00 local;
* nights 2..6 (2026-11-17 .. 2026-11-21): the previous day's new records plus updated
  versions of records from the 1-3 days before (clear times filled in, disposition set,
  call type reclassified, RMS status changed), each with a later LastUpdated;
* night 6 also holds a late metro CAD extract stamped 2026-11-18 14:00 whose versions
  are older than versions already delivered (the pipeline must keep the newer ones).

The generator plants the patterns later analyses must find (hot spots, an officer-
initiated hot spot, repeat addresses, a near-repeat burglary process, an emerging hot
spot and a hot spot that gets a police response) and records them in ``manifest.json``.

Everything is vectorised with numpy/polars and fully deterministic for a given seed:
no wall-clock time is used, every random draw comes from ``numpy.random.default_rng``
seeded with ``(seed, stream)``, and all outputs are written in a fixed order.

Geometry is built in a local metric plane (metres east/north of the city centre) and
mapped to WGS84 with a fixed affine transform (local tangent-plane scale at the centre),
so the street grid is aligned with true north and containment tests in lon/lat are
exact.  Times are generated as local wall-clock times in America/Los_Angeles and kept
as UTC epoch seconds; every output string is rendered back in local time.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

__all__ = ["DemoNight", "generate_demo_city"]

# --------------------------------------------------------------------------- time frame
TZ = "America/Los_Angeles"
HISTORY_START = date(2024, 11, 1)
HISTORY_END = date(2026, 11, 15)  # last day in the night-1 backfill
FIRST_RUN = date(2026, 11, 16)  # night 1 run date (extracts stamped 02:00 local)
N_NIGHTS = 6
LAST_DAY = FIRST_RUN + timedelta(days=N_NIGHTS - 2)  # 2026-11-20: last day of new calls
LATE_STAMP = datetime(2026, 11, 18, 14, 0, 0)  # the late, stale metro CAD extract
RESPONSE_DATE = date(2026, 6, 1)  # problem-solving response at hot spot #1
EMERGING_END = FIRST_RUN + timedelta(days=N_NIGHTS - 1)  # 2026-11-21 (exclusive)
EMERGING_START = EMERGING_END - timedelta(weeks=4)  # 2026-10-24
ND = (LAST_DAY - HISTORY_START).days + 1  # number of generated days
NAIVE0 = (HISTORY_START - date(1970, 1, 1)).days * 86400  # naive epoch s of day 0, 00:00 local

# ------------------------------------------------------------------- local metric plane
LON0, LAT0 = -120.51, 46.60
_A, _E2 = 6378137.0, 6.69437999014e-3
_S = math.sin(math.radians(LAT0))
M_PER_DEG_LAT = math.pi / 180 * _A * (1 - _E2) / (1 - _E2 * _S * _S) ** 1.5
M_PER_DEG_LON = math.pi / 180 * _A * math.cos(math.radians(LAT0)) / math.sqrt(1 - _E2 * _S * _S)


def _to_lonlat(x, y):
    return LON0 + np.asarray(x, float) / M_PER_DEG_LON, LAT0 + np.asarray(y, float) / M_PER_DEG_LAT


def _geom_lonlat(g, digits: int | None = None):
    """Map a geometry from the local plane to lon/lat (optionally rounded; polygons are not
    rounded so that districts and beats keep tiling the boundary exactly)."""

    def f(c):
        ll = np.column_stack(_to_lonlat(c[:, 0], c[:, 1]))
        return ll if digits is None else np.round(ll, digits)

    return shapely.transform(g, f)


# City: 12 km x 9 km octagon with a notch in the south edge.  County: east of it.
CITY_W, CITY_H, GRID = 6000, 4500, 200  # half width, half height, block size (m)
CITY_RING = [(-4500, -4500), (-1100, -4500), (-1100, -3800), (700, -3800), (700, -4500),
             (4500, -4500), (6000, -3000), (6000, 3000), (4500, 4500), (-4500, 4500),
             (-6000, 3000), (-6000, -3000)]
COUNTY_RING = [(6000, -4500), (16000, -4500), (16000, 3000), (14500, 4500), (6000, 4500)]
N_STREETS, N_AVES, NB, NK = 44, 59, 60, 50  # E-W streets, N-S avenues, blocks/line, numbers/block
OFFS = np.r_[2 + 4 * np.arange(25), 1 + 4 * np.arange(25)]  # house number within the block
SIDE = np.r_[np.ones(25), -np.ones(25)]  # even numbers north/east side, odd south/west


def _ordinal(n: int) -> str:
    suf = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suf}"


TREES = ["ALDER", "ASPEN", "BIRCH", "CEDAR", "CHERRY", "CHESTNUT", "CYPRESS", "DOGWOOD", "ELM",
         "FIR", "HAWTHORN", "HAZEL", "HEMLOCK", "HICKORY", "JUNIPER", "LARCH", "LAUREL", "LINDEN",
         "LOCUST", "MAGNOLIA", "MAPLE", "MULBERRY", "OAK", "PINE", "POPLAR", "SPRUCE", "SYCAMORE",
         "WALNUT"]
EASTS = ["ADAMS", "BAKER", "CASCADE", "COLUMBIA", "DIVISION", "FAIRVIEW", "FRUITVALE", "GARFIELD",
         "GRANT", "HARRISON", "JEFFERSON", "KENNEDY", "LINCOLN", "MADISON", "MCKINLEY", "MONROE",
         "NACHES", "OLYMPIC", "PACIFIC", "PIERCE", "RAINIER", "SUMMITVIEW", "TAHOMA", "TIETON",
         "UNION", "VIOLA", "WASHINGTON", "WILLOW", "YAKIMA"]
STREETS = [f"{_ordinal(i)} ST" for i in range(1, N_STREETS + 1)]  # i=1..44 at y=-4500+200i
AVENUES = ["RIVER RD"] + [f"{t} AVE" for t in TREES] + ["MAIN ST"] + [f"{e} AVE" for e in EASTS]
LINE_NAMES = STREETS + AVENUES  # line L: 0..43 E-W streets, 44..102 N-S avenues (j=L-43)

# ------------------------------------------------------------------------- call types
# code: (priority, metro community weight, county community weight, P(incident), P(arrest|incident),
#        NIBRS offences {code: weight})
CALL_TYPES: dict[str, tuple] = {
    "BURG": ("2", 0.0, 1.5, 0.85, 0.08, {"220": 1}),  # metro burglaries come from the near-repeat process
    "THEFT": ("3", 11.0, 2.5, 0.70, 0.12, {"23H": 0.5, "23F": 0.3, "23C": 0.2}),
    "ASLT": ("1", 3.5, 1.0, 0.75, 0.35, {"13B": 0.74, "13A": 0.25, "09A": 0.01}),
    "DV": ("1", 4.0, 1.5, 0.75, 0.50, {"13B": 0.6, "13C": 0.25, "13A": 0.15}),
    "ROB": ("1", 0.8, 0.1, 0.90, 0.20, {"120": 1}),
    "SHOTS": ("E", 1.2, 0.8, 0.30, 0.20, {"520": 0.7, "13A": 0.27, "09A": 0.03}),
    "SUSP": ("2", 7.0, 2.0, 0.06, 0.30, {"90J": 0.5, "35A": 0.5}),
    "SUSPV": ("2", 4.0, 1.5, 0.05, 0.30, {"240": 0.5, "35A": 0.5}),
    "ALARM": ("2", 7.0, 2.0, 0.0, 0.0, {}),
    "NOISE": ("4", 5.0, 1.0, 0.0, 0.0, {}),
    "DIST": ("3", 9.0, 2.0, 0.20, 0.40, {"90C": 0.6, "13C": 0.4}),
    "WELF": ("2", 6.0, 2.0, 0.0, 0.0, {}),
    "MH": ("2", 3.0, 0.8, 0.0, 0.0, {}),
    "MED": ("1", 3.0, 1.0, 0.0, 0.0, {}),
    "TC": ("2", 5.0, 4.0, 0.03, 0.60, {"90D": 1}),
    "TS": ("3", 0.0, 0.0, 0.03, 0.60, {"90D": 0.8, "35A": 0.2}),
    "PC": ("5", 0.0, 0.0, 0.0, 0.0, {}),
    "FI": ("4", 0.0, 0.0, 0.05, 0.70, {"35A": 0.5, "520": 0.5}),
    "PATROL": ("5", 0.0, 0.0, 0.0, 0.0, {}),
    "ADMIN": ("5", 0.0, 0.0, 0.0, 0.0, {}),  # officer-initiated (crosswalk origin = officer)
    "FIRE": ("1", 0.6, 0.8, 0.35, 0.10, {"200": 1}),
    "VAND": ("3", 4.0, 1.5, 0.75, 0.10, {"290": 1}),
    "TRESP": ("3", 4.0, 1.5, 0.45, 0.50, {"90J": 1}),
    "DRUG": ("3", 1.2, 0.3, 0.60, 0.60, {"35A": 1}),
    "FRAUD": ("4", 3.0, 1.0, 0.80, 0.05, {"26A": 1}),
    "VEHTHEFT": ("2", 2.5, 1.0, 0.90, 0.05, {"240": 1}),
    "PARK": ("4", 4.0, 0.5, 0.0, 0.0, {}),
    "ANIMAL": ("4", 2.0, 3.0, 0.0, 0.0, {}),
    "CIVIL": ("4", 3.0, 1.5, 0.0, 0.0, {}),
    "911HU": ("2", 4.5, 1.5, 0.0, 0.0, {}),
    "ASSIST": ("4", 2.0, 2.0, 0.0, 0.0, {}),
    "JUV": ("3", 2.0, 0.5, 0.15, 0.30, {"90C": 0.5, "290": 0.5}),
    "SEXOFF": ("1", 0.4, 0.15, 0.85, 0.25, {"11A": 0.7, "36B": 0.3}),
    "MISSING": ("2", 1.0, 0.3, 0.0, 0.0, {}),
    "LOST": ("5", 1.0, 0.3, 0.0, 0.0, {}),
    "XYZ9": ("3", 0.0, 0.0, 0.0, 0.0, {}),  # retired code, deliberately absent from the crosswalk
}
TYPES = list(CALL_TYPES)
TIDX = {t: i for i, t in enumerate(TYPES)}
T_PRIO = np.array([CALL_TYPES[t][0] for t in TYPES], dtype=object)
T_PINC = np.array([CALL_TYPES[t][3] for t in TYPES])
T_PARR = np.array([CALL_TYPES[t][4] for t in TYPES])
OFFICER_TYPES = ("TS", "PC", "FI", "PATROL", "ADMIN")  # always on-view; SUSP/DRUG sometimes
OFFICER_MIX_METRO = {"TS": 50, "PATROL": 20, "PC": 10, "FI": 6, "SUSP": 4, "DRUG": 3, "ADMIN": 3}
OFFICER_MIX_COUNTY = {"TS": 60, "PATROL": 25, "PC": 10, "SUSP": 5, "ADMIN": 3}
RECLASS = {"SUSP": ["TRESP", "DRUG", "DIST"], "DIST": ["ASLT", "DV", "NOISE"], "THEFT": ["FRAUD", "VAND"],
           "ALARM": ["SUSP"], "WELF": ["MH", "MED"], "911HU": ["DV", "WELF"], "NOISE": ["DIST"],
           "SUSPV": ["VEHTHEFT", "DRUG"], "ASLT": ["DV", "DIST"], "TC": ["PARK"], "MH": ["WELF"],
           "VAND": ["THEFT"], "TRESP": ["SUSP"], "JUV": ["DIST"], "MISSING": ["WELF"]}

DISPS = ["ARR", "CIT", "RPT", "ADV", "HAN", "GOA", "UTL", "UNF", "REF", "CAN", "DUP", "NR", "VOID"]
D = {d: i for i, d in enumerate(DISPS)}
PRIO_COUNTY = {"E": "P1", "1": "P1", "2": "P2", "3": "P3", "4": "P4", "5": "P4"}

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

# --------------------------------------------------------------------------- volumes
METRO_COMMUNITY_PER_DAY = 80.0
METRO_OFFICER_PER_DAY = 36.0
METRO_ONLINE_REPORTS_PER_DAY = 8.0
COUNTY_COMMUNITY_PER_DAY = 20.0
COUNTY_OFFICER_PER_DAY = 10.0
BURG_IMMIGRANTS_PER_DAY, BURG_BRANCHING, BURG_MEAN_DAYS, BURG_MAX_DAYS, BURG_MAX_M = 2.0, 0.33, 1.5, 7.0, 200.0

HOUR_COMMUNITY = [4.6, 3.8, 3.0, 2.2, 1.6, 1.4, 1.8, 2.6, 3.4, 4.0, 4.6, 5.0,
                  5.3, 5.4, 5.6, 5.8, 6.0, 6.1, 6.1, 5.9, 5.7, 5.5, 5.3, 5.0]
HOUR_OFFICER = [6.0, 5.0, 4.0, 3.0, 1.5, 1.0, 1.0, 2.0, 3.5, 4.0, 4.0, 4.0,
                3.5, 3.5, 4.0, 4.5, 5.0, 5.0, 5.0, 5.5, 6.0, 6.5, 7.0, 7.0]
HOUR_BURG = [1.5, 1.2, 1.0, 1.0, 1.0, 1.2, 2.0, 3.0, 4.0, 4.5, 4.8, 5.0,
             5.0, 5.0, 5.0, 5.0, 4.8, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.8]
HOUR_DAYTIME = [0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 1, 2, 4, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1.5, 1, 0.8, 0.6]
WEEKDAY_FACTOR = np.array([0.97, 0.95, 0.96, 0.98, 1.06, 1.08, 1.00])  # Mon..Sun

# ------------------------------------------------------------------ planted patterns
HOTSPOTS = [(-2000.0, 1100.0), (2600.0, -1700.0), (-3800.0, -2100.0)]  # local metres, intersections
HOTSPOT_RADIUS, HOTSPOT_MULT = 150.0, 8.0
HOTSPOT1_MULT = 14.0  # the problem hot spot: stronger, so it is still a 99 % hot spot after its 60 % drop
EMERGING_CENTER, EMERGING_EXCESS = (3400.0, 2300.0), 40.0  # extra calls = 40x the background
RESPONSE_REDUCTION, PROBLEM_BUFFER = 0.60, 400.0
OFFICER_HOTSPOT = ("MAIN ST", "38TH ST")  # intersection (x=0, y=3100)
OFFICER_HOTSPOT_PER_YEAR, OFFICER_HOTSPOT_TS_SHARE = 100, 0.80
# (address, common place name, calls per year, call-type mix)
REPEATS = [
    ("1210 MAIN ST", "QUIK MART", 400,
     {"THEFT": 5, "DIST": 3, "TRESP": 3, "SUSP": 2, "ASLT": 1, "ROB": 0.5, "WELF": 1, "DRUG": 1, "ALARM": 0.5}),
    ("2813 PACIFIC AVE", "MOTEL 8", 320,
     {"DRUG": 3, "DIST": 3, "DV": 2, "WELF": 2, "NOISE": 2, "TRESP": 1, "MH": 1, "THEFT": 1, "FRAUD": 0.5,
      "SEXOFF": 0.2}),
    ("3502 LINDEN AVE", "RIVERTON MALL", 250,
     {"THEFT": 6, "ALARM": 2, "SUSP": 2, "DIST": 1, "VEHTHEFT": 1, "PARK": 1, "LOST": 1, "JUV": 1}),
    ("834 ELM AVE", "", 200, {"DV": 4, "DIST": 3, "NOISE": 2, "WELF": 2, "MH": 2, "CIVIL": 1, "911HU": 1}),
    ("2417 14TH ST", "", 150,
     {"NOISE": 3, "DIST": 3, "DV": 2, "DRUG": 1, "THEFT": 1, "VAND": 1, "PARK": 1, "WELF": 1}),
]
COMMON_PLACES = ["GREYHOUND STATION", "CITY PARK", "RIVERTON HIGH SCHOOL", "SAFEWAY", "WALMART",
                 "CITY HALL", "PUBLIC LIBRARY", "RIVERTON MEMORIAL HOSPITAL", "FRED MEYER",
                 "SHELL STATION", "CHEVRON", "DENNYS", "TACO BELL", "RIVERSIDE APTS", "SUNSET MOTEL",
                 "SKATE PARK", "TRANSIT CENTER", "DOLLAR TREE", "CASCADE BOWL", "LIQUOR BARN"]
COMMON_PLACE_PER_YEAR = (50, 100)  # spread over the places; always below the repeat addresses

# County rural roads (local metres): name, orientation, fixed coordinate
COUNTY_ROADS = [("ORCHARD RD", "EW", -3000.0), ("CANAL RD", "EW", -500.0), ("RIDGE RD", "EW", 2200.0),
                ("RTE 9", "NS", 8200.0), ("RTE 24", "NS", 11300.0), ("WAPATO RD", "NS", 14100.0)]

# --------------------------------------------------------------------------- people
FIRST = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID",
         "ELIZABETH", "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA", "THOMAS", "SARAH",
         "CHRISTOPHER", "KAREN", "DANIEL", "LISA", "MATTHEW", "NANCY", "ANTHONY", "BETTY", "MARK",
         "SANDRA", "DONALD", "ASHLEY", "MARIA", "JOSE", "CARLOS", "ANA", "LUIS", "ROSA", "MIGUEL",
         "SOFIA", "KEVIN", "AMANDA"]
LAST = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ",
        "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE",
        "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "SANCHEZ", "CLARK",
        "RAMIREZ", "LEWIS", "ROBINSON", "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "TORRES",
        "NGUYEN", "HILL", "FLORES"]
ACCENT_FIRST = ["José", "Zoë", "Renée", "François", "Andrés", "Mónica", "Noémi", "Björn", "Inés", "Raúl"]
ACCENT_LAST = ["Peña", "Café", "Núñez", "Müller", "García", "Rodríguez", "Hernández", "Gómez", "Ibáñez",
               "Söderström"]

NARRATIVES = {
    "BURG": ["RP RETURNED HOME, FRONT DOOR PRIED OPEN", "RP REPORTS GARAGE BROKEN INTO OVERNIGHT"],
    "THEFT": ["RP REPORTS BIKE STOLEN FROM PORCH", "WALLET TAKEN FROM PURSE, RP UNSURE WHEN"],
    "ASLT": ["TWO MALES FIGHTING IN FRONT OF LOC", "RP STATES SHE WAS PUNCHED BY UNK MALE"],
    "DV": ["FEMALE SCREAMING, MALE YELLING INSIDE", "RP STATES BOYFRIEND PUSHED HER"],
    "ROB": ["CLERK ROBBED AT KNIFEPOINT, SUSP FLED", "RP STATES PHONE TAKEN BY FORCE"],
    "SHOTS": ["MULT SHOTS HEARD IN AREA", "RP HEARD 3 POPS, POSS SHOTS"],
    "SUSP": ["MALE LOOKING INTO CAR WINDOWS", "SUBJ HANGING AROUND BACK OF BLDG"],
    "SUSPV": ["WHT SEDAN PARKED W/ ENGINE RUNNING 2 HRS", "VEH CIRCLING BLOCK SLOWLY"],
    "ALARM": ["AUDIBLE ALARM, REAR DOOR ZONE", "COMMERCIAL ALARM, MOTION ZONE 4"],
    "NOISE": ["LOUD MUSIC FROM NEIGHBOR", "PARTY W/ LOUD MUSIC IN BACKYARD"],
    "DIST": ["SUBJ YELLING AT CUSTOMERS", "VERBAL ARGUMENT BETWEEN NEIGHBORS"],
    "WELF": ["RP REQ CHECK ON ELDERLY NEIGHBOR", "FEMALE SITTING IN ROADWAY, UNK OK"],
    "MH": ["SUBJ TALKING TO HIMSELF, AGITATED", "RP STATES SON OFF MEDS"],
    "MED": ["MALE DOWN ON SIDEWALK, BREATHING", "RP REQ AID FOR FALL"],
    "TC": ["2 VEH NON INJURY, BLOCKING LANE", "VEH VS POLE, DRIVER OUT OF CAR"],
    "TS": ["TRAFFIC STOP, SPEED", "TRAFFIC STOP, NO TAIL LIGHTS"],
    "PC": ["PREMISE CHECK", "BUSINESS CHECK, ALL SECURE"],
    "FI": ["FIELD CONTACT W/ 2 SUBJS", "SUBJ STOPPED, MATCHES DESC"],
    "PATROL": ["EXTRA PATROL REQUESTED", "DIRECTED PATROL"],
    "ADMIN": ["ADMIN DETAIL", "PRISONER TRANSPORT"],
    "FIRE": ["DUMPSTER FIRE BEHIND BLDG", "SMOKE FROM VACANT HOUSE"],
    "VAND": ["GRAFFITI ON FENCE", "CAR WINDOW BROKEN OVERNIGHT"],
    "TRESP": ["SUBJ REFUSING TO LEAVE STORE", "TRANSIENT CAMPED BEHIND BLDG"],
    "DRUG": ["SUBJS SMOKING IN CAR, POSS NARCOTICS", "HAND TO HAND ACTIVITY IN LOT"],
    "FRAUD": ["RP SCAMMED BY PHONE, GIFT CARDS", "UNAUTH CHARGES ON ACCOUNT"],
    "VEHTHEFT": ["RP VEH STOLEN FROM DRIVEWAY", "VEH TAKEN FROM LOT OVERNIGHT"],
    "PARK": ["VEH BLOCKING DRIVEWAY", "ABANDONED VEH ON STREET 3 DAYS"],
    "ANIMAL": ["LOOSE DOG CHASING KIDS", "INJURED DEER IN ROAD"],
    "CIVIL": ["LANDLORD TENANT DISPUTE", "CHILD EXCHANGE STANDBY"],
    "911HU": ["911 HANG UP, NO ANSWER ON CALLBACK", "OPEN LINE, VOICES IN BACKGROUND"],
    "ASSIST": ["ASSIST FIRE DEPT", "ASSIST OTHER AGENCY"],
    "JUV": ["JUVS SKATING ON PRIVATE PROPERTY", "RUNAWAY JUV RETURNED"],
    "SEXOFF": ["RP REPORTS SEXUAL ASSAULT, DELAYED", "CPS REFERRAL RE POSS SEX OFFENSE"],
    "MISSING": ["RP REPORTS ADULT SON MISSING 2 DAYS", "MISSING ELDERLY MALE, DEMENTIA"],
    "LOST": ["RP LOST WALLET", "FOUND PROPERTY TURNED IN"],
    "XYZ9": ["MISC INCIDENT", "SEE NOTES"],
}
NARR_SUFFIX = ["", "", "", "", ", RP WILL MEET OFCR OUT FRONT", ", NO WEAPONS SEEN",
               ' RP STATES SUBJ YELLED "GET OUT"', ", SUBJ LAST SEEN NB ON FOOT",
               ", RP REQ NO CONTACT", " PER RP", ", 2ND CALL ON THIS"]


# =========================================================================== helpers
def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _local_to_utc(naive: np.ndarray) -> np.ndarray:
    """Naive local epoch seconds -> UTC epoch seconds (DST gap times pushed one hour later,
    ambiguous fall-back times take the first occurrence)."""
    s = pl.from_epoch(pl.Series(np.asarray(naive, dtype=np.int64)), time_unit="s")
    z = s.dt.replace_time_zone(TZ, ambiguous="earliest", non_existent="null")
    if z.null_count():
        z = z.fill_null((s + timedelta(hours=1)).dt.replace_time_zone(TZ, ambiguous="earliest",
                                                                       non_existent="null"))
    return z.dt.epoch("s").to_numpy().astype(np.int64)


def _utc_to_naive(utc: np.ndarray) -> np.ndarray:
    s = pl.from_epoch(pl.Series(np.asarray(utc, dtype=np.int64)), time_unit="s")
    s = s.dt.replace_time_zone("UTC").dt.convert_time_zone(TZ).dt.replace_time_zone(None)
    return s.dt.epoch("s").to_numpy().astype(np.int64)


def _naive(d: date | datetime) -> int:
    if isinstance(d, datetime):
        return int((d - datetime(1970, 1, 1)).total_seconds())
    return (d - date(1970, 1, 1)).days * 86400


def _dt_expr(col: str, fmt: str, sentinel: str | None = None) -> pl.Expr:
    """Int64 UTC epoch seconds column -> local time string; -1 -> null, -2 -> sentinel."""
    local = pl.from_epoch(pl.col(col), time_unit="s").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ)
    e = pl.when(pl.col(col) >= 0).then(local.dt.strftime(fmt))
    if sentinel is not None:
        e = e.when(pl.col(col) == -2).then(pl.lit(sentinel))
    return e.otherwise(None).alias(col)


def _fixed_expr(col: str, nd: int) -> pl.Expr:
    """Float column -> fixed-decimal string (exact, no float printing), null stays null."""
    v = (pl.col(col) * 10**nd).round(0).cast(pl.Int64)
    a = v.abs()
    return (pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit(""))
            + (a // 10**nd).cast(pl.Utf8) + "." + (a % 10**nd).cast(pl.Utf8).str.zfill(nd)).alias(col)


def _masked_str(name: str, values: np.ndarray, mask: np.ndarray) -> pl.Series:
    """String series with nulls where mask is False."""
    return pl.Series(name, np.asarray(values).astype(str), dtype=pl.Utf8).scatter(np.flatnonzero(~mask), None)


def _choice(rng, mix: dict, n: int) -> np.ndarray:
    keys = list(mix)
    w = np.array([mix[k] for k in keys], float)
    return np.array([TIDX[k] for k in keys])[rng.choice(len(keys), size=n, p=w / w.sum())]


def _take(values: list, idx: np.ndarray) -> np.ndarray:
    return np.array(values, dtype=object)[idx]


def _seq_numbers(prefix: str, naive_sorted: np.ndarray) -> list:
    """Per-year sequence numbers (`M24-000123`) for records sorted by local time."""
    year = (naive_sorted // 86400).astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    first = np.searchsorted(year, year, side="left")
    seq = np.arange(len(year)) - first + 1
    df = pl.DataFrame({"y": year % 100, "s": seq})
    return df.select(pl.lit(prefix) + pl.col("y").cast(pl.Utf8).str.zfill(2) + "-"
                     + pl.col("s").cast(pl.Utf8).str.zfill(6)).to_series().to_list()


# =========================================================================== clock
class _Clock:
    """Day grid, day weights (weekly rhythm, mild seasonality) and the nightly run instants."""

    def __init__(self):
        d64 = np.datetime64(HISTORY_START.isoformat()) + np.arange(ND)
        weekday = (d64.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        doy = (d64 - d64.astype("datetime64[Y]")).astype(int)
        self.dw = WEEKDAY_FACTOR[weekday] * (1 + 0.08 * np.cos(2 * np.pi * (doy - 200) / 365.25))
        self.dw /= self.dw.mean()
        # UTC instant of 02:00 local on every day (plus a few days of slack)
        self.t0200 = _local_to_utc(NAIVE0 + np.arange(ND + 8) * 86400 + 7200)
        self.day_end = _local_to_utc(NAIVE0 + np.arange(ND + 8) * 86400 + 86399)
        self.rd = {k: (FIRST_RUN - HISTORY_START).days + k - 1 for k in range(1, N_NIGHTS + 1)}
        self.T = {k: int(self.t0200[self.rd[k]]) for k in self.rd}  # run instants
        self.T_late = int(_local_to_utc(np.array([_naive(LATE_STAMP)]))[0])
        self.end = int(self.day_end[ND - 1])

    def day_of(self, d: date) -> int:
        return (d - HISTORY_START).days

    def poisson_days(self, rng, rate_per_day: float, lo: int = 0, hi: int = ND - 1) -> np.ndarray:
        counts = rng.poisson(rate_per_day * self.dw[lo:hi + 1])
        return np.repeat(np.arange(lo, hi + 1), counts)

    def fixed_days(self, rng, n: int, lo: int = 0, hi: int = ND - 1) -> np.ndarray:
        w = self.dw[lo:hi + 1]
        return np.sort(rng.choice(np.arange(lo, hi + 1), size=n, p=w / w.sum()))

    @staticmethod
    def times(rng, days: np.ndarray, hours: list) -> np.ndarray:
        hp = np.asarray(hours, float)
        h = rng.choice(24, size=len(days), p=hp / hp.sum())
        return _local_to_utc(NAIVE0 + days * 86400 + h * 3600 + rng.integers(0, 3600, len(days)))


# =========================================================================== geography
class _Geography:
    """Boundaries, districts/beats and the two location tables (metro grid, county roads)."""

    def __init__(self):
        self.city = shapely.Polygon(CITY_RING)
        self.county = shapely.Polygon(COUNTY_RING)
        inner_city, inner_county = self.city.buffer(-25), self.county.buffer(-50)
        shapely.prepare(inner_city)
        shapely.prepare(inner_county)
        self.city_km2 = self.city.area / 1e6
        self._metro_locations(inner_city)
        self._county_locations(inner_county)

    # ---- metro: every house number on the grid plus every intersection
    def _metro_locations(self, inner):
        L, b, k = np.meshgrid(np.arange(N_STREETS + N_AVES), np.arange(NB), np.arange(NK), indexing="ij")
        L, b, k = L.ravel(), b.ravel(), k.ravel()
        ew = L < N_STREETS
        along = 200.0 * b + 2.0 * OFFS[k]
        side = 8.0 * SIDE[k]
        fixed_y = -CITY_H + GRID * (L + 1.0)
        fixed_x = -CITY_W + GRID * (L - N_STREETS + 1.0)
        hx = np.where(ew, -CITY_W + along, fixed_x + side)
        hy = np.where(ew, fixed_y + side, -CITY_H + along)
        nblocks = np.where(ew, NB, 45)
        hnum = 100 * b + OFFS[k]
        hvalid = (b < nblocks) & shapely.contains_xy(inner, hx, hy)
        self.n_house = len(hx)
        self.hline = L
        i, j = np.meshgrid(np.arange(1, N_STREETS + 1), np.arange(1, N_AVES + 1), indexing="ij")
        i, j = i.ravel(), j.ravel()
        ix, iy = -CITY_W + GRID * j * 1.0, -CITY_H + GRID * i * 1.0
        ivalid = shapely.contains_xy(inner, ix, iy)
        self.x = np.r_[hx, ix]
        self.y = np.r_[hy, iy]
        self.valid = np.r_[hvalid, ivalid]
        self.is_int = np.r_[np.zeros(len(hx), bool), np.ones(len(ix), bool)]
        names = np.array(LINE_NAMES, dtype=object)
        addr = pl.DataFrame({"n": hnum, "s": names[L]}).select(
            pl.col("n").cast(pl.Utf8) + " " + pl.col("s")).to_series()
        inter = pl.DataFrame({"a": names[N_STREETS + j - 1], "s": names[i - 1]}).select(
            pl.col("a") + " & " + pl.col("s")).to_series()
        self.addr = pl.concat([addr, inter]).to_numpy()
        self.addr_index = None  # built lazily
        # district letter: wedges split by the lines y = +-0.75 x through the centre
        x, y = self.x, self.y
        self.district = np.where(y >= 0.75 * np.abs(x), "N", np.where(y <= -0.75 * np.abs(x), "S",
                                                                       np.where(x > 0, "E", "W")))
        self.house_ids = np.flatnonzero(self.valid & ~self.is_int)
        self.int_ids = np.flatnonzero(self.valid & self.is_int)

    def loc_of(self, address: str) -> int:
        if self.addr_index is None:
            self.addr_index = {a: n for n, a in enumerate(self.addr)}
        n = self.addr_index[address]
        assert self.valid[n], address
        return n

    def snap_house(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Nearest house number on the grid to each point (may be invalid: check .valid)."""
        i = np.clip(np.rint((y + CITY_H) / GRID), 1, N_STREETS).astype(int)
        j = np.clip(np.rint((x + CITY_W) / GRID), 1, N_AVES).astype(int)
        dy, dx = y - (-CITY_H + GRID * i), x - (-CITY_W + GRID * j)
        ew = np.abs(dy) <= np.abs(dx)
        L = np.where(ew, i - 1, N_STREETS + j - 1)
        pos = np.where(ew, x + CITY_W, y + CITY_H)
        b = np.clip(np.floor(pos / GRID), 0, NB - 1).astype(int)
        off = (pos - GRID * b) / 2.0
        even = np.where(ew, dy, dx) >= 0
        k = np.where(even, np.clip(np.rint((off - 2) / 4), 0, 24), 25 + np.clip(np.rint((off - 1) / 4), 0, 24))
        return (L * NB + b) * NK + k.astype(int)

    def sample(self, rng, n: int, p_int=0.05, within=None) -> np.ndarray:
        """Uniform locations (houses, or intersections with probability p_int), optionally
        restricted to a circle (cx, cy, r)."""
        houses, ints = self.house_ids, self.int_ids
        if within is not None:
            cx, cy, r = within
            houses = houses[np.hypot(self.x[houses] - cx, self.y[houses] - cy) <= r]
            ints = ints[np.hypot(self.x[ints] - cx, self.y[ints] - cy) <= r]
        pi = np.broadcast_to(np.asarray(p_int, float), (n,))
        use_int = (rng.random(n) < pi) & (len(ints) > 0)
        return np.where(use_int, ints[rng.integers(0, max(len(ints), 1), n)],
                        houses[rng.integers(0, len(houses), n)])

    # ---- county: rural addresses along a few roads, 5-digit numbers
    def _county_locations(self, inner):
        xs, ys, addrs = [], [], []
        for name, orient, c in COUNTY_ROADS:
            pos = np.arange(-4480.0 if orient == "NS" else 6020.0, 16000.0, 40.0)
            base = pos + (4500 if orient == "NS" else -6000)
            for parity, side in ((0, 15.0), (1, -15.0)):
                num = 10000 + 2 * np.rint(base * 0.4).astype(int) + parity
                x = pos if orient == "EW" else np.full_like(pos, c + side)
                y = pos if orient == "NS" else np.full_like(pos, c + side)
                xs.append(x)
                ys.append(y)
                addrs += [f"{n} {name}" for n in num]
        ns = [r for r in COUNTY_ROADS if r[1] == "NS"]
        ew = [r for r in COUNTY_ROADS if r[1] == "EW"]
        for a in ns:
            for e in ew:
                xs.append(np.array([a[2]]))
                ys.append(np.array([e[2]]))
                addrs.append(f"{a[0]} & {e[0]}")
        x, y = np.concatenate(xs), np.concatenate(ys)
        ok = shapely.contains_xy(inner, x, y)
        self.cx, self.cy = x[ok], y[ok]
        self.caddr = np.array(addrs, dtype=object)[ok]
        self.c_is_int = np.char.find(self.caddr.astype(str), "&") >= 0
        self.c_house_ids = np.flatnonzero(~self.c_is_int)
        self.c_int_ids = np.flatnonzero(self.c_is_int)

    def sample_county(self, rng, n: int, p_int) -> np.ndarray:
        pi = np.broadcast_to(np.asarray(p_int, float), (n,))
        use_int = rng.random(n) < pi
        return np.where(use_int, self.c_int_ids[rng.integers(0, len(self.c_int_ids), n)],
                        self.c_house_ids[rng.integers(0, len(self.c_house_ids), n)])

    # ---- layers
    def districts(self):
        big = 20000.0
        wedges = {"NORTH": [(0, 0), (big, 0.75 * big), (-big, 0.75 * big)],
                  "EAST": [(0, 0), (big, -0.75 * big), (big, 0.75 * big)],
                  "SOUTH": [(0, 0), (-big, -0.75 * big), (big, -0.75 * big)],
                  "WEST": [(0, 0), (-big, 0.75 * big), (-big, -0.75 * big)]}
        return {k: shapely.intersection(self.city, shapely.Polygon(v)) for k, v in wedges.items()}

    def beats(self, districts):
        big = 20000.0
        q = lambda x0, x1, y0, y1: shapely.box(x0, y0, x1, y1)  # noqa: E731
        cuts = {  # beat number -> rectangle (outer/inner x left/right of the district axis)
            "NORTH": [q(-big, 0, 2800, big), q(0, big, 2800, big), q(-big, 0, -big, 2800), q(0, big, -big, 2800)],
            "SOUTH": [q(-big, 0, -big, -2800), q(0, big, -big, -2800), q(-big, 0, -2800, big), q(0, big, -2800, big)],
            "EAST": [q(3800, big, 0, big), q(3800, big, -big, 0), q(-big, 3800, 0, big), q(-big, 3800, -big, 0)],
            "WEST": [q(-big, -3800, 0, big), q(-big, -3800, -big, 0), q(-3800, big, 0, big), q(-3800, big, -big, 0)],
        }
        out = []
        for dname, geom in districts.items():
            for n, rect in enumerate(cuts[dname], start=1):
                out.append((f"{dname[0]}{n}", dname, shapely.intersection(geom, rect)))
        return out

    def county_beats(self):
        big = 30000.0
        rects = [shapely.box(0, 0, 11000, big), shapely.box(11000, 0, big, big),
                 shapely.box(0, -big, 11000, 0), shapely.box(11000, -big, big, 0)]
        return [(f"C{n}", "COUNTY", shapely.intersection(self.county, r)) for n, r in enumerate(rects, 1)]

    def street_segments(self):
        segs = []  # (segment_id, street, from, to, x0, y0, x1, y1)
        for L, name in enumerate(LINE_NAMES):
            ew = L < N_STREETS
            for b in range(NB if ew else 45):
                a0, a1 = GRID * b, GRID * (b + 1)
                if ew:
                    y = -CITY_H + GRID * (L + 1)
                    segs.append((L * 100 + b, name, 100 * b, 100 * b + 99, -CITY_W + a0, y, -CITY_W + a1, y))
                else:
                    x = -CITY_W + GRID * (L - N_STREETS + 1)
                    segs.append((L * 100 + b, name, 100 * b, 100 * b + 99, x, -CITY_H + a0, x, -CITY_H + a1))
        coords = np.array([s[4:] for s in segs]).reshape(-1, 2, 2)
        clipped = shapely.intersection(shapely.linestrings(coords), self.city)
        keep = (shapely.get_type_id(clipped) == 1) & (shapely.length(clipped) > 1.0)
        return [(s[:4], g) for s, g, k in zip(segs, clipped, keep, strict=True) if k]


def _write_geojson(path: Path, features: list[tuple[dict, object]], digits: int | None = None) -> None:
    parts = []
    for props, geom in features:
        parts.append(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": mapping(_geom_lonlat(geom, digits))}, sort_keys=True,
                                separators=(",", ":")))
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(parts) + "\n]}\n",
                    encoding="utf-8")


def _write_layers(geo: _Geography, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    districts = geo.districts()
    beats = geo.beats(districts)
    _write_geojson(out / "metro_boundary.geojson", [({"name": "City of Riverton"}, geo.city)])
    _write_geojson(out / "metro_districts.geojson", [({"district": k}, g) for k, g in districts.items()])
    _write_geojson(out / "metro_beats.geojson", [({"beat": b, "district": d}, g) for b, d, g in beats])
    _write_geojson(out / "county_boundary.geojson", [({"name": "Riverton County Sheriff"}, geo.county)])
    _write_geojson(out / "county_beats.geojson",
                   [({"beat": b, "district": d}, g) for b, d, g in geo.county_beats()])
    segs = geo.street_segments()
    _write_geojson(out / "metro_streets.geojson",
                   [({"segment_id": s[0], "street": s[1], "from_addr": s[2], "to_addr": s[3]}, g)
                    for s, g in segs], digits=7)
    return {"metro_boundary": "layers/metro_boundary.geojson", "metro_districts": "layers/metro_districts.geojson",
            "metro_beats": "layers/metro_beats.geojson", "metro_streets": "layers/metro_streets.geojson",
            "county_boundary": "layers/county_boundary.geojson", "county_beats": "layers/county_beats.geojson",
            "n_street_segments": len(segs), "n_metro_beats": len(beats)}


# =========================================================================== raw calls
def _cat(parts: list[dict]) -> dict:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _part(t, loc, ctype, ov, comp, sub=None, place=None) -> dict:
    n = len(t)
    return {"t": np.asarray(t, np.int64), "loc": np.asarray(loc, np.int64), "ctype": np.asarray(ctype, np.int64),
            "ov": np.broadcast_to(np.asarray(ov, bool), (n,)).copy(), "comp": np.full(n, comp, np.int64),
            "sub": np.full(n, -1, np.int64) if sub is None else np.broadcast_to(np.asarray(sub), (n,)).astype(np.int64),
            "place": np.full(n, -1, np.int64) if place is None else np.broadcast_to(np.asarray(place), (n,)).astype(np.int64),
            "dup_src": np.full(n, -1, np.int64)}


COMP = {"background": 0, "officer": 1, "burglary": 2, "hotspot": 3, "emerging": 4, "repeat": 5,
        "officer_hotspot": 6, "common_place": 7, "duplicate": 8}


def _community_mix(county: bool = False) -> dict:
    col = 2 if county else 1
    return {t: v[col] for t, v in CALL_TYPES.items() if v[col] > 0}


def _p_int(ctype: np.ndarray) -> np.ndarray:
    """Probability a call is geocoded to an intersection, by call type (~10% overall)."""
    p = np.full(len(ctype), 0.04)
    p[ctype == TIDX["TS"]] = 0.40
    p[ctype == TIDX["TC"]] = 0.60
    p[np.isin(ctype, [TIDX["SUSPV"], TIDX["PARK"], TIDX["SHOTS"]])] = 0.15
    return p


def _hawkes_burglaries(rng, geo: _Geography, clock: _Clock, scale: float):
    """Self-exciting residential burglaries: immigrants ~ Poisson, each burglary has
    Poisson(BRANCHING) offspring 0..MAX_M metres and 0..MAX_DAYS days later."""
    days = clock.poisson_days(rng, BURG_IMMIGRANTS_PER_DAY * scale)
    t = _Clock.times(rng, days, HOUR_BURG)
    loc = geo.sample(rng, len(t), p_int=0.0)
    gen = np.zeros(len(t), np.int64)
    parent = np.full(len(t), -1, np.int64)
    all_t, all_loc, all_gen, all_par = [t], [loc], [gen], [parent]
    cur_t, cur_loc, cur_id, g, next_id = t, loc, np.arange(len(t)), 0, len(t)
    scale_t = 1 - math.exp(-BURG_MAX_DAYS / BURG_MEAN_DAYS)
    while len(cur_t):
        g += 1
        kids = rng.poisson(BURG_BRANCHING, len(cur_t))
        p = np.repeat(np.arange(len(cur_t)), kids)
        dt = -BURG_MEAN_DAYS * np.log1p(-rng.random(len(p)) * scale_t)  # truncated exponential, days
        ct = cur_t[p] + np.rint(dt * 86400).astype(np.int64)
        # 4 candidate displacements uniform in a disc; keep the first that snaps to a valid
        # house within MAX_M of the parent
        r = BURG_MAX_M * np.sqrt(rng.random((len(p), 4)))
        a = 2 * np.pi * rng.random((len(p), 4))
        px, py = geo.x[cur_loc[p]][:, None], geo.y[cur_loc[p]][:, None]
        cand = geo.snap_house(px + r * np.cos(a), py + r * np.sin(a))
        ok = geo.valid[cand] & (np.hypot(geo.x[cand] - px, geo.y[cand] - py) <= BURG_MAX_M)
        first = np.argmax(ok, axis=1)
        has = ok.any(axis=1) & (ct <= clock.end)
        cl = cand[np.arange(len(p)), first]
        ct, cl, cp = ct[has], cl[has], cur_id[p][has]
        ids = next_id + np.arange(len(ct))
        next_id += len(ct)
        all_t.append(ct)
        all_loc.append(cl)
        all_gen.append(np.full(len(ct), g))
        all_par.append(cp)
        cur_t, cur_loc, cur_id = ct, cl, ids
    return (np.concatenate(all_t), np.concatenate(all_loc), np.concatenate(all_gen), np.concatenate(all_par))


def _knox(x, y, t, ds, dt_days):
    """Knox statistic: observed close (space and time) pairs vs expectation from marginals."""
    n = len(t)
    close_s = close_t = close_st = 0
    for a in range(0, n, 512):
        sx, sy, st = x[a:a + 512, None], y[a:a + 512, None], t[a:a + 512, None]
        upper = np.arange(a, min(a + 512, n))[:, None] < np.arange(n)[None, :]
        s = (np.hypot(sx - x[None], sy - y[None]) <= ds) & upper
        tt = (np.abs(st - t[None]) <= dt_days * 86400) & upper
        close_s += int(s.sum())
        close_t += int(tt.sum())
        close_st += int((s & tt).sum())
    pairs = n * (n - 1) // 2
    return {"n_events": n, "pairs": pairs, "close_in_space": close_s, "close_in_time": close_t,
            "observed_close_pairs": close_st,
            "expected_close_pairs": round(close_s * close_t / pairs, 2) if pairs else 0.0}


def _metro_raw_calls(rng, geo: _Geography, clock: _Clock, scale: float):
    """All metro call components (before units, times and dispositions)."""
    yrs = ND / 365.25
    comm = _community_mix()
    parts, meta = [], {}

    # background community calls, uniform over the city
    days = clock.poisson_days(rng, METRO_COMMUNITY_PER_DAY * scale)
    ct = _choice(rng, comm, len(days))
    parts.append(_part(clock.times(rng, days, HOUR_COMMUNITY), geo.sample(rng, len(days), _p_int(ct)), ct,
                       False, COMP["background"]))
    # officer-initiated calls; a third of traffic stops on the arterials MAIN ST / RIVER RD
    days = clock.poisson_days(rng, METRO_OFFICER_PER_DAY * scale)
    ct = _choice(rng, OFFICER_MIX_METRO, len(days))
    loc = geo.sample(rng, len(days), _p_int(ct))
    arterial_lines = [LINE_NAMES.index("MAIN ST"), LINE_NAMES.index("RIVER RD")]
    art_ids = geo.house_ids[np.isin(geo.hline[geo.house_ids], arterial_lines)]
    move = (ct == TIDX["TS"]) & (rng.random(len(ct)) < 0.33) & (loc < geo.n_house)
    loc[move] = art_ids[rng.integers(0, len(art_ids), move.sum())]
    parts.append(_part(clock.times(rng, days, HOUR_OFFICER), loc, ct, True, COMP["officer"]))

    # near-repeat burglaries
    bt, bl, bg, bp = _hawkes_burglaries(rng, geo, clock, scale)
    parts.append(_part(bt, bl, np.full(len(bt), TIDX["BURG"]), False, COMP["burglary"], sub=bg))
    knox = _knox(geo.x[bl], geo.y[bl], bt.astype(float), BURG_MAX_M, BURG_MAX_DAYS)
    meta["near_repeat"] = {
        "offense_code": "220", "call_type": "BURG",
        "description": "All metro BURG calls (and RMS 220 incidents) come from a self-exciting process.",
        "immigrant_rate_per_day": BURG_IMMIGRANTS_PER_DAY * scale, "branching_ratio": BURG_BRANCHING,
        "spatial_kernel": "uniform in a disc, snapped to the nearest house number",
        "max_distance_m": BURG_MAX_M, "temporal_kernel": "exponential truncated at max_days",
        "mean_days": BURG_MEAN_DAYS, "max_days": BURG_MAX_DAYS,
        "n_burglaries": int(len(bt)), "n_immigrants": int((bg == 0).sum()), "n_offspring": int((bg > 0).sum()),
        "max_generation": int(bg.max()) if len(bg) else 0,
        "knox_cad_burg_200m_7d": knox,
    }

    # background density of community calls (per km2 per day, at this scale)
    bg_density = (METRO_COMMUNITY_PER_DAY + BURG_IMMIGRANTS_PER_DAY / (1 - BURG_BRANCHING)) * scale / geo.city_km2
    circle_km2 = math.pi * (HOTSPOT_RADIUS / 1000) ** 2
    resp_day = clock.day_of(RESPONSE_DATE)

    # hot spots: (mult - 1) x background of extra community calls; #1 drops by 60% after the response
    hs_meta = []
    for h, (cx, cy) in enumerate(HOTSPOTS):
        mult = HOTSPOT1_MULT if h == 0 else HOTSPOT_MULT
        rate = (mult - 1) * bg_density * circle_km2  # extra calls per day
        if h == 0:
            n_pre, n_post = round(rate * resp_day), round(rate * (1 - RESPONSE_REDUCTION) * (ND - resp_day))
            days = np.r_[clock.fixed_days(rng, n_pre, 0, resp_day - 1), clock.fixed_days(rng, n_post, resp_day)]
        else:
            n_pre = n_post = None
            days = clock.fixed_days(rng, round(rate * ND))
        ct = _choice(rng, comm, len(days))
        loc = geo.sample(rng, len(days), _p_int(ct), within=(cx, cy, HOTSPOT_RADIUS - 10))
        parts.append(_part(clock.times(rng, days, HOUR_COMMUNITY), loc, ct, False, COMP["hotspot"], sub=h))
        lon, lat = _to_lonlat(cx, cy)
        hs_meta.append({"id": h + 1, "intersection": geo.addr[geo.n_house + _int_index(cx, cy)],
                        "center_lon": round(float(lon), 7), "center_lat": round(float(lat), 7),
                        "radius_m": HOTSPOT_RADIUS, "density_multiplier": mult,
                        "extra_calls": int(len(days)),
                        "extra_calls_before_response": n_pre, "extra_calls_after_response": n_post,
                        "period": [HISTORY_START.isoformat(), LAST_DAY.isoformat()]})
    meta["hotspots"] = hs_meta
    meta["background_density_per_km2_day"] = round(bg_density, 6)

    # emerging hot spot: nothing extra until the last 4 weeks, then an excess of 40x background each week
    cx, cy = EMERGING_CENTER
    per_week = max(1, round(EMERGING_EXCESS * bg_density * circle_km2 * 7))
    e0 = clock.day_of(EMERGING_START)
    days = np.concatenate([clock.fixed_days(rng, per_week, e0 + 7 * w, e0 + 7 * w + 6) for w in range(4)])
    ct = _choice(rng, comm, len(days))
    loc = geo.sample(rng, len(days), _p_int(ct), within=(cx, cy, HOTSPOT_RADIUS - 10))
    parts.append(_part(clock.times(rng, days, HOUR_COMMUNITY), loc, ct, False, COMP["emerging"]))
    lon, lat = _to_lonlat(cx, cy)
    meta["emerging"] = {
        "center_lon": round(float(lon), 7), "center_lat": round(float(lat), 7), "radius_m": HOTSPOT_RADIUS,
        "intersection": geo.addr[geo.n_house + _int_index(cx, cy)],
        "start": EMERGING_START.isoformat(), "end": (EMERGING_END - timedelta(days=1)).isoformat(),
        "weeks": [[(EMERGING_START + timedelta(weeks=w)).isoformat(),
                   (EMERGING_START + timedelta(weeks=w, days=6)).isoformat()] for w in range(4)],
        "excess_multiplier": EMERGING_EXCESS, "extra_calls_per_week": per_week,
        "expected_background_calls_per_week": round(bg_density * circle_km2 * 7, 3),
        "expected_class": "consecutive",
        "note": "no extra activity before start; the last weeks arrive partly in nights 2..6",
    }

    # repeat addresses (deterministic counts so they always top the ranking)
    rep_meta = []
    for r, (address, place, per_year, mix) in enumerate(REPEATS):
        n = round(per_year * yrs * scale)
        days = clock.fixed_days(rng, n)
        loc = np.full(n, geo.loc_of(address))
        parts.append(_part(clock.times(rng, days, HOUR_COMMUNITY), loc, _choice(rng, mix, n), False,
                           COMP["repeat"], sub=r, place=r if place else -1))
        lon, lat = _to_lonlat(geo.x[loc[0]], geo.y[loc[0]])
        rep_meta.append({"rank": r + 1, "address": address, "common_place": place, "calls_per_year": per_year,
                         "planted_calls": n, "lon": round(float(lon), 7), "lat": round(float(lat), 7)})
    meta["repeat_addresses"] = rep_meta

    # officer-initiated hot spot: one intersection, ~80% traffic stops
    oh = geo.loc_of(f"{OFFICER_HOTSPOT[0]} & {OFFICER_HOTSPOT[1]}")
    n = round(OFFICER_HOTSPOT_PER_YEAR * yrs * scale)
    is_ts = rng.permutation(np.arange(n) < round(OFFICER_HOTSPOT_TS_SHARE * n))
    ct = np.where(is_ts, TIDX["TS"], _choice(rng, {"TC": 3, "DIST": 2, "SUSP": 2, "WELF": 1, "PARK": 1}, n))
    days = clock.fixed_days(rng, n)
    t = np.where(is_ts, clock.times(rng, days, HOUR_OFFICER), clock.times(rng, days, HOUR_COMMUNITY))
    parts.append(_part(t, np.full(n, oh), ct, is_ts, COMP["officer_hotspot"]))
    lon, lat = _to_lonlat(geo.x[oh], geo.y[oh])
    meta["officer_hotspot"] = {"address": geo.addr[oh], "lon": round(float(lon), 7), "lat": round(float(lat), 7),
                               "planted_calls": n, "planted_ts_onview": int(is_ts.sum()),
                               "ts_share": OFFICER_HOTSPOT_TS_SHARE, "radius_m": 50.0}

    # other common places (fixed counts below the repeat addresses)
    planted_xy = np.array(HOTSPOTS + [EMERGING_CENTER, (geo.x[oh], geo.y[oh])]
                          + [(geo.x[geo.loc_of(a[0])], geo.y[geo.loc_of(a[0])]) for a in REPEATS])
    h = geo.house_ids
    dmin = np.min(np.hypot(geo.x[h][:, None] - planted_xy[:, 0], geo.y[h][:, None] - planted_xy[:, 1]), axis=1)
    cand = h[dmin > 700]
    places = np.sort(rng.choice(cand, len(COMMON_PLACES), replace=False))
    rates = np.linspace(*COMMON_PLACE_PER_YEAR, len(COMMON_PLACES))
    cp_meta = []
    for p, (loc_id, rate) in enumerate(zip(places, rates, strict=True)):
        n = round(rate * yrs * scale)
        days = clock.fixed_days(rng, n)
        parts.append(_part(clock.times(rng, days, HOUR_COMMUNITY), np.full(n, loc_id), _choice(rng, comm, n),
                           False, COMP["common_place"], place=len(REPEATS) + p))
        cp_meta.append({"name": COMMON_PLACES[p], "address": geo.addr[loc_id], "planted_calls": n})
    meta["common_places"] = cp_meta

    calls = _cat(parts)
    # duplicates: 1% of community calls get a second call within 10 minutes nearby
    community = np.flatnonzero(~calls["ov"])
    src = np.sort(rng.choice(community, round(0.01 * len(calls["t"])), replace=False))
    dloc = calls["loc"][src].copy()
    shift = rng.integers(-3, 4, len(src))
    near = dloc + shift  # another number on the same block face
    same_block = (dloc < geo.n_house) & (near // NK == dloc // NK) & geo.valid[np.clip(near, 0, len(geo.valid) - 1)]
    dloc = np.where(same_block & (rng.random(len(src)) < 0.3), near, dloc)
    dup = _part(calls["t"][src] + rng.integers(30, 600, len(src)), dloc, calls["ctype"][src], False,
                COMP["duplicate"], place=calls["place"][src])
    dup["dup_src"] = src
    calls = _cat([calls, dup])
    return calls, meta


def _int_index(x: float, y: float) -> int:
    i, j = round((y + CITY_H) / GRID), round((x + CITY_W) / GRID)
    return (i - 1) * N_AVES + (j - 1)


def _county_raw_calls(rng, geo: _Geography, clock: _Clock, scale: float):
    days = clock.poisson_days(rng, COUNTY_COMMUNITY_PER_DAY * scale)
    # at least one community call a day (only matters at tiny scales): every nightly file then
    # carries a caller name, and one of them per day is forced to use cp1252-only characters
    days = np.sort(np.r_[days, np.setdiff1d(np.arange(ND), days)])
    ct = _choice(rng, _community_mix(county=True), len(days))
    a = _part(clock.times(rng, days, HOUR_COMMUNITY), geo.sample_county(rng, len(days), _p_int(ct)), ct,
              False, COMP["background"])
    days = clock.poisson_days(rng, COUNTY_OFFICER_PER_DAY * scale)
    ct = _choice(rng, OFFICER_MIX_COUNTY, len(days))
    b = _part(clock.times(rng, days, HOUR_OFFICER), geo.sample_county(rng, len(days), _p_int(ct)), ct,
              True, COMP["officer"])
    return _cat([a, b])


# =========================================================================== call life cycle
class _Calls:
    """Calls with units, timelines and dispositions; can render the version seen at any instant."""

    def __init__(self, rng, raw: dict, clock: _Clock, prefix: str, scale: float, *, metro: bool):
        self.clock = clock
        order = np.lexsort((np.arange(len(raw["t"])), raw["t"]))
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        c = {k: v[order] for k, v in raw.items()}
        c["dup_of"] = np.where(c["dup_src"] >= 0, inv[np.maximum(c["dup_src"], 0)], -1)
        self.c = c
        n = self.n = len(c["t"])
        recv = c["t"]
        self.naive = _utc_to_naive(recv)
        self.day = (self.naive - NAIVE0) // 86400
        self.number = np.array(_seq_numbers(prefix, self.naive), dtype=object)

        # ---- call types: a few retired codes, ~5% reclassified
        itype = c["ctype"].copy()
        comm = ~c["ov"] & (itype != TIDX["BURG"]) & (c["comp"] != COMP["duplicate"])
        if metro:
            itype[comm & (rng.random(n) < 0.005 / max(comm.mean(), 1e-9))] = TIDX["XYZ9"]
        ftype = itype.copy()
        elig = ~np.isin(itype, [TIDX[t] for t in ("BURG", "XYZ9", *OFFICER_TYPES)])
        recl = elig & (rng.random(n) < 0.05 / max(elig.mean(), 1e-9))
        for t in np.unique(itype[recl]):
            m = recl & (itype == t)
            targets = [TIDX[x] for x in RECLASS.get(TYPES[t], ["DIST", "SUSP"]) if TIDX[x] != t]
            ftype[m] = np.array(targets)[rng.integers(0, len(targets), m.sum())]
        self.itype, self.ftype, self.recl = itype, ftype, recl
        prio = T_PRIO[itype]

        # ---- dispositions (and whether an RMS report is written)
        dup = c["comp"] == COMP["duplicate"]
        r = rng.random(n)
        void = ~dup & (r < 0.001)
        can = ~dup & ~void & (r < 0.021)
        inc = ~dup & ~void & ~can & (rng.random(n) < T_PINC[ftype])
        arr = inc & (rng.random(n) < T_PARR[ftype])
        other = rng.choice([D[x] for x in ("HAN", "ADV", "GOA", "UTL", "UNF", "REF", "NR", "CIT")], n,
                           p=[.32, .22, .10, .10, .08, .05, .10, .03])
        ts = rng.choice([D["CIT"], D["ADV"], D["ARR"], D["HAN"]], n, p=[.45, .40, .03, .12])
        disp = np.where(ftype == TIDX["TS"], ts, other)
        disp = np.where(inc, np.where(arr, D["ARR"], D["RPT"]), disp)
        disp[can], disp[void], disp[dup] = D["CAN"], D["VOID"], D["DUP"]
        self.disp, self.incident = disp, inc

        # ---- units
        lam = {"E": 2.2, "1": 1.2, "2": 0.65, "3": 0.4, "4": 0.15, "5": 0.1}
        lam_arr = np.array([lam[p] for p in prio])
        lam_arr[c["ov"]] = np.where(itype[c["ov"]] == TIDX["TS"], 0.3, 0.15)
        n_units = 1 + np.minimum(rng.poisson(lam_arr), 3)
        self.sentinel = can & (rng.random(n) < (0.15 if metro else 0.0))
        zero = dup | (can & ~self.sentinel & (rng.random(n) < 0.5)) | \
            ((itype == TIDX["911HU"]) & (rng.random(n) < 0.3))
        n_units[zero] = 0
        U = int(n_units.sum())
        u_call = np.repeat(np.arange(n), n_units)
        u_ord = np.arange(U) - np.repeat(np.cumsum(n_units) - n_units, n_units)

        # ---- call timeline (UTC epoch seconds)
        ov = c["ov"]
        entered = recv + np.where(ov, rng.integers(3, 30, n), rng.integers(10, 91, n))
        qmed = {"E": 45, "1": 90, "2": 240, "3": 600, "4": 1200, "5": 1800}
        q = np.array([qmed[p] for p in prio]) * rng.lognormal(0, 0.8, n)
        q = np.clip(q, np.where(prio == "E", 20, 30), 3600).astype(np.int64)
        q[ov] = rng.integers(0, 20, ov.sum())
        d1 = entered + q
        lag2 = np.where(u_ord > 0, rng.integers(20, 420, U), 0)
        u_disp = d1[u_call] + lag2
        uov = ov[u_call]
        u_enr = u_disp + np.where(uov, 0, rng.integers(5, 90, U))
        travel = np.clip(rng.lognormal(math.log(360), 0.45, U), 180, 900).astype(np.int64)
        u_ons = u_enr + np.where(uov, 0, travel)
        dur = np.clip(rng.lognormal(math.log(1500), 0.5, U), 600, 3600)
        long_call = np.isin(disp, [D["ARR"], D["RPT"]])[u_call] & (u_ord == 0)
        dur = dur + np.where(long_call, rng.integers(900, 3600, U), 0)
        dur = np.where(u_ord > 0, dur * rng.uniform(0.4, 1.0, U), dur).astype(np.int64)
        u_clr = u_ons + dur
        # secondary units cancelled en route; cancelled calls never arrive
        cancel_u = ((u_ord > 0) & (rng.random(U) < 0.06) & ~uov) | can[u_call]
        u_clr = np.where(cancel_u, u_enr + rng.integers(60, 600, U), u_clr)
        u_ons = np.where(cancel_u, -1, u_ons)
        t_cancel = np.full(n, -1, np.int64)
        first = np.cumsum(n_units) - n_units
        has_u = n_units > 0
        t_cancel[self.sentinel] = u_enr[first[self.sentinel]] + rng.integers(60, 600, self.sentinel.sum())
        u_clr = np.where(self.sentinel[u_call], -2, u_clr)  # -2: rendered as the 01/01/1900 sentinel
        # data-entry error: on-scene before dispatch on ~0.2% of unit rows
        self.err_rows = (u_ons >= 0) & (rng.random(U) < (0.002 if metro else 0.0))
        u_ons = np.where(self.err_rows, u_disp - rng.integers(60, 600, U), u_ons)

        t_close = np.full(n, -1, np.int64)
        np.maximum.at(t_close, u_call, u_clr)
        t_close = np.where(self.sentinel, t_cancel, t_close)
        t_close = np.where(has_u, t_close, entered + rng.integers(60, 900, n))
        slow = rng.random(n) < 0.15  # report/supervisor review: disposition entered hours to days later
        t_final = t_close + np.where(slow, rng.integers(2 * 3600, 60 * 3600, n), rng.integers(0, 600, n))
        t_reclass = np.where(recl, np.where(rng.random(n) < 0.6, t_close,
                                            t_close + rng.integers(3600, 50 * 3600, n)), -1)
        self.entered, self.t_close, self.t_final, self.t_reclass, self.t_cancel = \
            entered, t_close, t_final, t_reclass, t_cancel
        self.n_units, self.u_call, self.u_ord = n_units, u_call, u_ord
        self.u_disp, self.u_enr, self.u_ons, self.u_clr = u_disp, u_enr, u_ons, u_clr

    # ---- make sure every night has updates to calls from each of the 3 days before
    def force_updates(self, rng, m: int):
        ck = self.clock
        used = np.zeros(self.n, bool)
        for k in range(2, N_NIGHTS + 1):
            for d in (2, 3, 4):
                day = ck.rd[k] - d
                lo, hi = ck.T[k - 1] + 3600, ck.T[k] - 3600
                elig = (self.day == day) & (self.t_close >= 0) & (self.t_close < ck.t0200[day + 1]) & ~used \
                    & (self.c["comp"] != COMP["duplicate"])
                pick = np.sort(rng.choice(np.flatnonzero(elig), min(m, int(elig.sum())), replace=False))
                self.t_final[pick] = rng.integers(lo, hi, len(pick))
                used[pick] = True
        self._used = used

    def force_stale(self, rng, m: int) -> None:
        """Calls whose disposition is entered after the late extract's stamp (and before night 4)."""
        ck = self.clock
        days = (ck.rd[2] - 1, ck.rd[3] - 1)  # 2026-11-16, 2026-11-17
        elig = np.isin(self.day, days) & (self.t_close >= 0) & (self.t_close < ck.T_late - 3600) & ~self._used \
            & (self.c["comp"] != COMP["duplicate"])
        pick = np.sort(rng.choice(np.flatnonzero(elig), min(m, int(elig.sum())), replace=False))
        self.t_final[pick] = rng.integers(ck.T_late + 1800, ck.T[4] - 3600, len(pick))

    # ---- versions
    def last_updated(self, T: int) -> np.ndarray:
        cand = np.stack([self.c["t"], self.entered, self.t_final, self.t_reclass, self.t_cancel], 1)
        lu = np.where(cand <= T, cand, -1).max(1)
        ut = np.stack([self.u_disp, self.u_enr, self.u_ons, np.maximum(self.u_clr, -1)], 1)
        np.maximum.at(lu, self.u_call, np.where(ut <= T, ut, -1).max(1))
        return lu

    def select(self, k: int) -> np.ndarray:
        """Calls delivered by night k's regular extract."""
        ck = self.clock
        if k == 1:
            return self.day <= ck.rd[1] - 1
        lu = self.last_updated(ck.T[k])
        rd = ck.rd[k]
        return (self.day == rd - 1) | ((self.day >= rd - 4) & (self.day <= rd - 2) & (lu > ck.T[k - 1]))

    def state(self, T: int, sel: np.ndarray) -> dict:
        """Per-call version fields at instant T for the selected calls."""
        idx = np.flatnonzero(sel)
        return {"idx": idx, "ftype": np.where(self.t_reclass[idx] <= T, self.ftype[idx], self.itype[idx]),
                "disp": np.where(self.t_final[idx] <= T, self.disp[idx], -1),
                "lu": self.last_updated(T)[idx]}


# =========================================================================== rendering
def _people(rng, n: int, accent_share: float, proper: bool):
    fi, la = rng.integers(0, len(FIRST), n), rng.integers(0, len(LAST), n)
    acc = rng.random(n) < accent_share
    af, al = rng.integers(0, len(ACCENT_FIRST), n), rng.integers(0, len(ACCENT_LAST), n)
    df = pl.DataFrame({"f": np.where(acc, _take(ACCENT_FIRST, af), _take(FIRST, fi)),
                       "l": np.where(acc, _take(ACCENT_LAST, al), _take(LAST, la))})
    if proper:  # "José Peña"
        return df.select(pl.col("f").str.to_titlecase() + " " + pl.col("l").str.to_titlecase()).to_series()
    return df.select(pl.col("l").str.to_uppercase() + ", " + pl.col("f").str.to_uppercase()).to_series()


def _phones(rng, n: int) -> pl.Series:
    return pl.select("(509) 555-01" + pl.Series(rng.integers(0, 100, n)).cast(pl.Utf8).str.zfill(2)).to_series()


def _narratives(rng, ctype: np.ndarray, ov: np.ndarray, newline_share: float) -> pl.Series:
    """Short free text; caller-related suffixes (commas, quotes, embedded newline) only for
    community calls."""
    n = len(ctype)
    base = np.array([NARRATIVES[t] for t in TYPES], dtype=object)  # (types, 2)
    text = base[ctype, rng.integers(0, 2, n)]
    suf = np.where(ov, "", _take(NARR_SUFFIX, rng.integers(0, len(NARR_SUFFIX), n)))
    nl = np.where(~ov & (rng.random(n) < newline_share), "\nUPDATE: RP CALLED BACK, SUBJ GONE", "")
    return pl.select(pl.Series(text, dtype=pl.Utf8) + pl.Series(suf, dtype=pl.Utf8)
                     + pl.Series(nl, dtype=pl.Utf8)).to_series()


METRO_COLUMNS = ["CallNumber", "UnitID", "CallReceivedDT", "CallEnteredDT", "DispatchDT", "EnrouteDT",
                 "OnSceneDT", "ClearDT", "InitialCallType", "FinalCallType", "Priority", "Disposition",
                 "Address", "CommonPlace", "Latitude", "Longitude", "OnView", "DuplicateOf", "CallerName",
                 "CallerPhone", "Narrative", "LastUpdatedDT"]
RMS_COLUMNS = ["IncidentNumber", "OffenseSeq", "OffenseCode", "OffenseDesc", "ReportedDT", "OccurredFromDT",
               "OccurredToDT", "StreetAddress", "X_FT", "Y_FT", "Status", "VictimName", "JuvenileInvolved",
               "LastModifiedDT"]
COUNTY_COLUMNS = ["EventNo", "ReceivedTime", "DispatchEpochMs", "ArriveEpochMs", "ClearEpochMs", "Nature",
                  "Prio", "Outcome", "Location", "Lat", "Lon", "Caller", "CallerPhone", "Remarks", "Updated"]
CAD_FMT, RMS_FMT, SO_FMT = "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"
SENTINEL_DT = "01/01/1900 12:00:00 AM"


class _MetroCAD:
    def __init__(self, rng, calls: _Calls, geo: _Geography, scale: float):
        self.calls, c, n = calls, calls.c, calls.n
        self.loc = c["loc"]
        # true position at the address (a few metres of geocoder jitter)
        x = geo.x[self.loc] + rng.normal(0, 2.0, n)
        y = geo.y[self.loc] + rng.normal(0, 2.0, n)
        self.lon, self.lat = _to_lonlat(x, y)
        r = rng.random(n)
        self.err = np.select([r < 0.004, r < 0.007, r < 0.008], [1, 2, 3], 0)  # 0/0, empty, swapped
        # ~10 calls with empty received/entered (single-unit, well inside the history)
        cand = np.flatnonzero((calls.n_units == 1) & (calls.day < calls.clock.rd[1] - 30))
        self.no_recv = np.sort(rng.choice(cand, max(3, round(10 * scale)), replace=False))
        place = c["place"]
        names = [p[1] for p in REPEATS] + COMMON_PLACES
        show_place = (place >= 0) & (rng.random(n) < 0.9)  # call takers sometimes skip it
        common = np.where(show_place, _take([""] + names, place + 1), "")
        caller = _people(rng, n, 0.03, proper=False)
        anon = c["ov"] | (rng.random(n) < 0.07)
        phone = _phones(rng, n)
        recv = c["t"].copy()
        entered = calls.entered.copy()
        recv[self.no_recv] = -1
        entered[self.no_recv] = -1
        lat_s = np.where(self.err == 3, self.lon, self.lat)
        lon_s = np.where(self.err == 3, self.lat, self.lon)
        df = pl.DataFrame({
            "CallNumber": calls.number, "CallReceivedDT": recv, "CallEnteredDT": entered,
            "InitialCallType": _take(TYPES, calls.itype), "Priority": T_PRIO[calls.itype],
            "Address": geo.addr[self.loc], "CommonPlace": common,
            "Latitude": lat_s, "Longitude": lon_s, "OnView": np.where(c["ov"], "Y", "N"),
            "DuplicateOf": np.where(c["dup_of"] >= 0, calls.number[np.maximum(c["dup_of"], 0)], ""),
            "CallerName": caller, "CallerPhone": phone, "Narrative": _narratives(rng, calls.itype, c["ov"], 0.002 / max((~c["ov"]).mean(), 1e-9)),
            "anon": anon, "ov": c["ov"], "err": self.err,
        })
        self.static = df.with_columns(
            _dt_expr("CallReceivedDT", CAD_FMT), _dt_expr("CallEnteredDT", CAD_FMT),
            _fixed_expr("Latitude", 6), _fixed_expr("Longitude", 6),
            pl.when(pl.col("anon")).then(pl.lit("")).otherwise(pl.col("CallerName")).alias("CallerName"),
            pl.when(pl.col("ov")).then(pl.lit("")).otherwise(pl.col("CallerPhone")).alias("CallerPhone"),
        ).with_columns(
            pl.when(pl.col("err") == 1).then(pl.lit("0")).when(pl.col("err") == 2).then(None)
            .otherwise(pl.col("Latitude")).alias("Latitude"),
            pl.when(pl.col("err") == 1).then(pl.lit("0")).when(pl.col("err") == 2).then(None)
            .otherwise(pl.col("Longitude")).alias("Longitude"),
        ).drop("anon", "ov", "err")
        # unit ids: shift digit (by local hour) + district letter + number, distinct within a call
        hour = (calls.naive % 86400) // 3600
        shift = np.where((hour >= 6) & (hour < 14), "1", np.where((hour >= 14) & (hour < 22), "2", "3"))
        base = rng.integers(0, 20, n)
        nn = 10 + (base[calls.u_call] + 7 * calls.u_ord) % 20
        self.unit_id = pl.select(pl.Series(shift[calls.u_call]) + pl.Series(geo.district[self.loc][calls.u_call])
                                 + pl.Series(nn).cast(pl.Utf8)).to_series().to_numpy()

    def frame(self, T: int, sel: np.ndarray) -> pl.DataFrame:
        cl = self.calls
        st = cl.state(T, sel)
        pos = np.full(cl.n, -1)
        pos[st["idx"]] = np.arange(len(st["idx"]))
        vis = sel[cl.u_call] & (cl.u_disp <= T)
        nvis = np.bincount(cl.u_call[vis], minlength=cl.n)
        ph = np.flatnonzero(sel & (nvis == 0))  # calls without a dispatched unit: one row, no unit
        rows_u = np.r_[np.flatnonzero(vis), np.full(len(ph), -1)]
        rows_c = np.r_[cl.u_call[vis], ph]
        order = np.lexsort((np.where(rows_u >= 0, cl.u_ord[np.maximum(rows_u, 0)], -1), rows_c))
        rows_u, rows_c = rows_u[order], rows_c[order]
        has = rows_u >= 0
        ru = np.maximum(rows_u, 0)

        def ut(a):
            v = a[ru]
            return np.where(has & (v <= T) & (v >= 0), v, np.where(has & (v == -2) & (cl.t_cancel[rows_c] <= T),
                                                                   -2, -1))

        p = pos[rows_c]
        df = self.static[rows_c].with_columns(
            _masked_str("UnitID", self.unit_id[ru], has),
            pl.Series("DispatchDT", ut(cl.u_disp)), pl.Series("EnrouteDT", ut(cl.u_enr)),
            pl.Series("OnSceneDT", ut(cl.u_ons)), pl.Series("ClearDT", ut(cl.u_clr)),
            pl.Series("FinalCallType", _take(TYPES, st["ftype"][p]), dtype=pl.Utf8),
            pl.Series("Disposition", _take(DISPS + [""], st["disp"][p]), dtype=pl.Utf8),
            pl.Series("LastUpdatedDT", st["lu"][p]),
        )
        return df.with_columns(
            _dt_expr("DispatchDT", CAD_FMT), _dt_expr("EnrouteDT", CAD_FMT), _dt_expr("OnSceneDT", CAD_FMT),
            _dt_expr("ClearDT", CAD_FMT, SENTINEL_DT), _dt_expr("LastUpdatedDT", CAD_FMT),
        ).select(METRO_COLUMNS)


class _County:
    def __init__(self, rng, calls: _Calls, geo: _Geography, scale: float):
        self.calls, c, n = calls, calls.c, calls.n
        loc = c["loc"]
        self.lon, self.lat = _to_lonlat(geo.cx[loc] + rng.normal(0, 3.0, n), geo.cy[loc] + rng.normal(0, 3.0, n))
        self.empty = rng.random(n) < 0.003
        # call-level unit times: first dispatch, first arrival, last clear (ms precision)
        cl = calls
        big = np.iinfo(np.int64).max
        d = np.full(n, big)
        np.minimum.at(d, cl.u_call, cl.u_disp)
        a = np.full(n, big)
        np.minimum.at(a, cl.u_call, np.where(cl.u_ons >= 0, cl.u_ons, big))
        self.t_disp = np.where(d == big, -1, d)
        self.t_arr = np.where(a == big, -1, a)
        self.t_clr = np.where(cl.n_units > 0, cl.t_close, -1)
        # epoch milliseconds, kept non-decreasing dispatch <= arrive <= clear
        ems = np.stack([self.t_disp, self.t_arr, self.t_clr], 1) * 1000 + rng.integers(0, 1000, (n, 3))
        ems[:, 1] = np.where(self.t_arr >= 0, np.maximum(ems[:, 1], ems[:, 0]), -1)
        ems[:, 2] = np.where(self.t_clr >= 0, np.maximum(ems[:, 2], ems[:, 1]), -1)
        self.ems = ems
        callers = _people(rng, n, 0.25, proper=True).to_numpy()
        # at least one accented (cp1252-only) caller per day so every file is really cp1252
        non_ov = np.flatnonzero(~c["ov"])
        _, firsts = np.unique(cl.day[non_ov], return_index=True)
        forced = non_ov[firsts]
        callers[forced] = _people(rng, len(forced), 1.0, proper=True).to_numpy()
        callers = np.where(c["ov"], "", callers)
        lat = np.where(self.empty, np.nan, self.lat)
        lon = np.where(self.empty, np.nan, self.lon)
        self.static = pl.DataFrame({
            "EventNo": cl.number, "ReceivedTime": c["t"], "Prio": [PRIO_COUNTY[p] for p in T_PRIO[cl.itype]],
            "Location": geo.caddr[loc], "Lat": lat, "Lon": lon, "Caller": callers,
            "CallerPhone": np.where(c["ov"], "", _phones(rng, n).to_numpy()),
            "Remarks": _narratives(rng, cl.itype, c["ov"], 0.0),
        }, nan_to_null=True).with_columns(_dt_expr("ReceivedTime", SO_FMT), _fixed_expr("Lat", 6),
                                         _fixed_expr("Lon", 6))

    def frame(self, T: int, sel: np.ndarray) -> pl.DataFrame:
        cl = self.calls
        st = cl.state(T, sel)
        i = st["idx"]

        def ms(t, j):
            v = t[i]
            return np.where((v >= 0) & (v <= T), self.ems[i, j], -1)

        def s(v):
            return _masked_str("", v.astype(str), v >= 0)

        return self.static[i].with_columns(
            s(ms(self.t_disp, 0)).alias("DispatchEpochMs"), s(ms(self.t_arr, 1)).alias("ArriveEpochMs"),
            s(ms(self.t_clr, 2)).alias("ClearEpochMs"),
            pl.Series("Nature", _take(TYPES, st["ftype"]), dtype=pl.Utf8),
            pl.Series("Outcome", _take(DISPS + [""], st["disp"]), dtype=pl.Utf8),
            pl.Series("Updated", st["lu"]),
        ).with_columns(_dt_expr("Updated", SO_FMT)).select(COUNTY_COLUMNS)


# =========================================================================== RMS
class _RMS:
    """Metro RMS incidents: reports written from CAD calls plus online/front-counter reports."""

    def __init__(self, rng, cad: _MetroCAD, geo: _Geography, clock: _Clock, scale: float):
        calls = cad.calls
        src = np.flatnonzero(calls.incident)
        # CAD-derived incidents
        t_rep = calls.c["t"][src]
        created = calls.t_close[src] + rng.integers(600, 8 * 3600, len(src))
        loc = calls.c["loc"][src]
        lon, lat = cad.lon[src], cad.lat[src]
        ftype = calls.ftype[src]
        code = np.empty(len(src), dtype=object)
        for t in np.unique(ftype):
            m = ftype == t
            offs = CALL_TYPES[TYPES[t]][5]
            keys = list(offs)
            w = np.array([offs[k] for k in keys], float)
            code[m] = np.array(keys, dtype=object)[rng.choice(len(keys), m.sum(), p=w / w.sum())]
        # online / front-counter reports (no CAD call)
        days = clock.poisson_days(rng, METRO_ONLINE_REPORTS_PER_DAY * scale)
        o_rep = clock.times(rng, days, HOUR_DAYTIME)
        o_loc = geo.sample(rng, len(days), p_int=0.0)
        o_lon, o_lat = _to_lonlat(geo.x[o_loc] + rng.normal(0, 2.0, len(days)),
                                  geo.y[o_loc] + rng.normal(0, 2.0, len(days)))
        keys = list(ONLINE_MIX)
        o_code = np.array(keys, dtype=object)[rng.choice(len(keys), len(days), p=list(ONLINE_MIX.values()))]
        t_rep = np.r_[t_rep, o_rep]
        created = np.r_[created, o_rep + rng.integers(60, 1800, len(days))]
        loc, lon, lat, code = np.r_[loc, o_loc], np.r_[lon, o_lon], np.r_[lat, o_lat], np.r_[code, o_code]
        self.from_call = np.r_[src, np.full(len(days), -1)]
        order = np.lexsort((np.arange(len(t_rep)), t_rep))
        t_rep, created, loc, lon, lat, code, self.from_call = (a[order] for a in
                                                               (t_rep, created, loc, lon, lat, code, self.from_call))
        n = self.n = len(t_rep)
        self.clock = clock
        naive = _utc_to_naive(t_rep)
        self.day = (naive - NAIVE0) // 86400
        self.number = np.array(_seq_numbers("R", naive), dtype=object)
        self.t_rep, self.created, self.code, self.loc = t_rep, created, code, loc

        # occurrence window
        window = np.isin(code, list(WINDOW_OFFENSES))
        fraud = code == "26A"
        to = t_rep - rng.integers(0, 3 * 3600, n)
        span = np.clip(rng.lognormal(math.log(8 * 3600), 1.0, n), 1800, 5 * 86400).astype(np.int64)
        frm = np.where(window, to - span, t_rep - rng.integers(0, 1800, n))
        frm = np.where(fraud, t_rep - rng.integers(86400, 60 * 86400, n), frm)
        to = np.where(fraud, t_rep - rng.integers(0, 86400, n), to)
        keep_to = np.where(window | fraud, rng.random(n) < 0.9, rng.random(n) < 0.2)
        to = np.where(keep_to, np.where(window | fraud, to, frm + rng.integers(60, 1800, n)), -1)
        self.to_before_from = (to >= 0) & (rng.random(n) < 0.01 / max(keep_to.mean(), 1e-9))
        frm, to = np.where(self.to_before_from, to, frm), np.where(self.to_before_from, frm, to)

        # status life cycle
        status = rng.choice(4, n, p=[0.55, 0.05, 0.398, 0.002])  # CLOSED UNFOUNDED ACTIVE(final) DELETED
        lag = np.where(rng.random(n) < 0.25, rng.integers(2 * 3600, 70 * 3600, n),
                       rng.integers(3 * 86400, 120 * 86400, n))
        self.status = status
        self.t_status = np.where(status == 2, -1, created + lag)

        # offences: 10% of incidents carry 2-3
        n_off = np.where(rng.random(n) < 0.10, rng.choice([2, 3], n, p=[0.75, 0.25]), 1)
        o_inc = np.repeat(np.arange(n), n_off)
        o_seq = np.arange(len(o_inc)) - np.repeat(np.cumsum(n_off) - n_off, n_off) + 1
        sec = np.array(SECONDARY_OFFENSES, dtype=object)
        pick = rng.integers(0, len(sec), len(o_inc))
        o_code = code[o_inc].copy()
        extra = o_seq > 1
        alt = sec[(pick + o_seq) % len(sec)]
        alt = np.where(alt == o_code, sec[(pick + o_seq + 3) % len(sec)], alt)
        o_code[extra] = alt[extra]
        # a 3rd offence must differ from the 2nd
        third = o_seq == 3
        o_code[third] = np.where(o_code[third] == o_code[np.flatnonzero(third) - 1],
                                 sec[(pick[third] + 5) % len(sec)], o_code[third])
        self.o_inc, self.o_code = o_inc, o_code

        xf, yf = Transformer.from_crs("EPSG:4326", "EPSG:2286", always_xy=True).transform(lon, lat)
        self.no_xy = rng.random(n) < 0.005
        victim = _people(rng, n, 0.02, proper=False).to_numpy()
        juv = np.where(rng.random(n) < 0.03, "Y", "N")
        juv_o = np.where(o_code == "36B", "Y", juv[o_inc])
        inc_df = pl.DataFrame({
            "IncidentNumber": self.number, "ReportedDT": t_rep, "OccurredFromDT": frm, "OccurredToDT": to,
            "StreetAddress": geo.addr[loc], "X_FT": np.where(self.no_xy, np.nan, xf),
            "Y_FT": np.where(self.no_xy, np.nan, yf), "victim": victim,
        }, nan_to_null=True).with_columns(
            _dt_expr("ReportedDT", RMS_FMT), _dt_expr("OccurredFromDT", RMS_FMT), _dt_expr("OccurredToDT", RMS_FMT),
            _fixed_expr("X_FT", 2), _fixed_expr("Y_FT", 2))
        self.static = inc_df[o_inc].with_columns(
            pl.Series("OffenseSeq", o_seq).cast(pl.Utf8),
            pl.Series("OffenseCode", o_code, dtype=pl.Utf8),
            pl.Series("OffenseDesc", [OFFENSES[x] for x in o_code], dtype=pl.Utf8),
            pl.Series("JuvenileInvolved", juv_o, dtype=pl.Utf8),
            pl.when(pl.Series(np.isin(o_code, list(SOCIETY_OFFENSES)))).then(None).otherwise(pl.col("victim"))
            .alias("VictimName"),
        ).drop("victim")

    def force_updates(self, rng, m: int):
        ck = self.clock
        used = np.zeros(self.n, bool)
        for k in range(2, N_NIGHTS + 1):
            for d in (2, 3, 4):
                day = ck.rd[k] - d
                elig = (self.day == day) & (self.created < ck.t0200[day + 1]) & ~used
                pick = np.sort(rng.choice(np.flatnonzero(elig), min(m, int(elig.sum())), replace=False))
                self.t_status[pick] = rng.integers(ck.T[k - 1] + 3600, ck.T[k] - 3600, len(pick))
                self.status[pick] = 0
                used[pick] = True

    def last_modified(self, T: int) -> np.ndarray:
        return np.where(self.created <= T, np.maximum(self.created, np.where(self.t_status <= T, self.t_status, -1)),
                        -1)

    def select(self, k: int) -> np.ndarray:
        ck = self.clock
        T = ck.T[k]
        exists = self.created <= T
        if k == 1:
            return exists & (self.day <= ck.rd[1] - 1)
        rd = ck.rd[k]
        lm = self.last_modified(T)
        return exists & ((self.day == rd - 1) | ((self.day >= rd - 4) & (self.day <= rd - 2) & (lm > ck.T[k - 1])))

    def frame(self, T: int, sel: np.ndarray) -> pl.DataFrame:
        rows = np.flatnonzero(sel[self.o_inc])
        inc = self.o_inc[rows]
        st = np.where(self.t_status[inc] <= T, self.status[inc], 2)
        return self.static[rows].with_columns(
            pl.Series("Status", _take(["CLOSED", "UNFOUNDED", "ACTIVE", "DELETED"], st), dtype=pl.Utf8),
            pl.Series("LastModifiedDT", self.last_modified(T)[inc]),
        ).with_columns(_dt_expr("LastModifiedDT", RMS_FMT)).select(RMS_COLUMNS)


# =========================================================================== writers
def _blank_to_null(df: pl.DataFrame) -> pl.DataFrame:
    """Empty strings are written as empty fields, like the nulls (no `""`)."""
    return df.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep())


def _write_metro_csv(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_blank_to_null(df).write_csv(include_bom=True, line_terminator="\r\n", quote_style="necessary")
                     .encode("utf-8"))


def _write_county_csv(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_blank_to_null(df).write_csv(separator=";", line_terminator="\r\n", quote_style="necessary")
                     .encode("cp1252"))


def _write_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = _blank_to_null(df)
    table = df.to_arrow().cast(pa.schema([(c, pa.string()) for c in df.columns]))
    pq.write_table(table, path, compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, version="2.6", row_group_size=1 << 20)


# =========================================================================== main entry
@dataclass
class DemoNight:
    night: int  # 1..N
    run_date: date  # the local date the nightly run happens (extracts are stamped 02:00 that day)
    files: list[tuple[str, Path]]  # (source name, path under out_dir/extracts/night_XX/<source>/)


def generate_demo_city(out_dir: Path, seed: int = 20261121, scale: float = 1.0) -> list[DemoNight]:
    """Generate the Riverton demo city under ``out_dir`` and return the nightly deliveries."""
    out_dir = Path(out_dir)
    for sub in ("extracts", "layers"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock, geo = _Clock(), _Geography()
    layers = _write_layers(geo, out_dir / "layers")
    m_force = max(1, round(3 * scale))
    n_stale = min(20, max(5, round(20 * scale)))

    # ---- metro CAD
    raw, meta = _metro_raw_calls(_rng(seed, 1), geo, clock, scale)
    mcalls = _Calls(_rng(seed, 2), raw, clock, "M", scale, metro=True)
    mcalls.force_updates(_rng(seed, 3), m_force)
    mcalls.force_stale(_rng(seed, 4), n_stale + 2)
    mcad = _MetroCAD(_rng(seed, 5), mcalls, geo, scale)
    # ---- metro RMS
    rms = _RMS(_rng(seed, 6), mcad, geo, clock, scale)
    rms.force_updates(_rng(seed, 7), m_force)
    # ---- county CAD
    craw = _county_raw_calls(_rng(seed, 8), geo, clock, scale)
    ccalls = _Calls(_rng(seed, 9), craw, clock, "SO", scale, metro=False)
    ccalls.force_updates(_rng(seed, 10), m_force)
    county = _County(_rng(seed, 11), ccalls, geo, scale)

    nights: list[DemoNight] = []
    volumes: dict = {}
    night_meta: list = []
    first_night = {"metro": np.zeros(mcalls.n, int), "county": np.zeros(ccalls.n, int), "rms": np.zeros(rms.n, int)}
    latest_lu = np.full(mcalls.n, -1, np.int64)
    for k in range(1, N_NIGHTS + 1):
        run = FIRST_RUN + timedelta(days=k - 1)
        T = clock.T[k]
        stamp = f"{run:%Y%m%d}T020000"
        base = out_dir / "extracts" / f"night_{k:02d}"
        files, nm = [], {"night": k, "run_date": run.isoformat(), "extract_time": f"{run}T02:00:00"}
        for key, src, obj, fname, writer in (
                ("metro", "demo_metro_calls", mcad, f"metro_cad_{stamp}.csv", _write_metro_csv),
                ("rms", "demo_metro_incidents", rms, f"metro_rms_{stamp}.parquet", _write_parquet),
                ("county", "demo_county_calls", county, f"so_cad_{run:%Y%m%d}.csv", _write_county_csv)):
            holder = obj.calls if key != "rms" else obj
            sel = holder.select(k)
            df = obj.frame(T, sel)
            path = base / src / fname
            writer(df, path)
            files.append((src, path))
            fn = first_night[key]
            new_ids = np.flatnonzero(sel & (fn == 0))
            upd_ids = np.flatnonzero(sel & (fn > 0))
            fn[new_ids] = k
            volumes[f"night_{k:02d}/{src}/{fname}"] = {"rows": df.height, "records": int(sel.sum())}
            entry = {"file": f"extracts/night_{k:02d}/{src}/{fname}", "rows": df.height,
                     "new_records": len(new_ids), "updated_records": len(upd_ids)}
            if k > 1:
                numbers = holder.number
                entry["updated_by_first_night"] = {
                    str(f): numbers[upd_ids[fn[upd_ids] == f]].tolist() for f in sorted(set(fn[upd_ids]))}
            nm[src] = entry
            if key == "metro":
                latest_lu = np.where(sel, np.maximum(latest_lu, mcalls.last_updated(T)), latest_lu)
        if k == N_NIGHTS:  # the late, stale metro CAD extract
            lu_late = mcalls.last_updated(clock.T_late)
            cand = np.flatnonzero((mcalls.c["t"] <= clock.T_late) & (latest_lu > lu_late) & (first_night["metro"] > 0)
                                  & (mcalls.day >= clock.rd[1] - 4))
            stale = np.sort(_rng(seed, 12).choice(cand, min(n_stale, len(cand)), replace=False))
            sel = np.zeros(mcalls.n, bool)
            sel[stale] = True
            df = mcad.frame(clock.T_late, sel)
            fname = f"metro_cad_{LATE_STAMP:%Y%m%dT%H%M%S}.csv"
            path = base / "demo_metro_calls" / fname
            _write_metro_csv(df, path)
            files.append(("demo_metro_calls", path))
            volumes[f"night_{k:02d}/demo_metro_calls/{fname}"] = {"rows": df.height, "records": len(stale)}
            nm["late_extract"] = {"file": f"extracts/night_{k:02d}/demo_metro_calls/{fname}",
                                  "stamp": LATE_STAMP.isoformat(), "rows": df.height,
                                  "stale_calls": mcalls.number[stale].tolist(),
                                  "note": "older versions (LastUpdatedDT earlier than already delivered): ignore"}
        files.sort(key=lambda f: (f[0], f[1].name))
        nights.append(DemoNight(night=k, run_date=run, files=files))
        night_meta.append(nm)

    manifest = _manifest(seed, scale, geo, clock, meta, mcalls, mcad, rms, ccalls, county, layers, night_meta,
                         volumes)
    _add_utm(manifest)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return nights


def _add_utm(manifest: dict) -> None:
    """Add EPSG:32610 coordinates next to every lon/lat pair of the planted patterns."""
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
    items = [*manifest["hotspots"], manifest["emerging"], manifest["problem"], manifest["officer_hotspot"],
             *manifest["repeat_addresses"]]
    for d in items:
        key = "center_" if "center_lon" in d else ""
        x, y = to_utm.transform(d[f"{key}lon"], d[f"{key}lat"])
        d[f"{key}x_32610"], d[f"{key}y_32610"] = round(float(x), 2), round(float(y), 2)


def _manifest(seed, scale, geo, clock, meta, mcalls, mcad, rms, ccalls, county, layers, night_meta, volumes):
    resp_lon, resp_lat = meta["hotspots"][0]["center_lon"], meta["hotspots"][0]["center_lat"]
    bg, r_km = meta["background_density_per_km2_day"], HOTSPOT_RADIUS / 1000
    extra = (HOTSPOT_MULT - 1) * bg * math.pi * r_km**2
    numbers = mcalls.number
    return {
        "generator": "transforms.demo.generate_demo_city", "seed": seed, "scale": scale,
        "city": {"name": "Riverton", "agencies": {"metro": "Riverton Police Department",
                                                  "county": "Riverton County Sheriff"},
                 "center_lon": LON0, "center_lat": LAT0, "analysis_crs": "EPSG:32610", "rms_crs": "EPSG:2286",
                 "timezone": TZ, "metro_area_km2": round(geo.city_km2, 4),
                 "county_area_km2": round(geo.county.area / 1e6, 4)},
        "time": {"history_start": HISTORY_START.isoformat(), "history_end": HISTORY_END.isoformat(),
                 "last_day": LAST_DAY.isoformat(), "first_run": FIRST_RUN.isoformat(), "nights": N_NIGHTS},
        "layers": layers,
        "sources": {
            "demo_metro_calls": {"format": "csv", "encoding": "utf-8-sig", "delimiter": ",", "quote": '"',
                                 "line_terminator": "CRLF", "grain": "one row per responding unit",
                                 "datetime_format": CAD_FMT, "clear_sentinel": SENTINEL_DT,
                                 "columns": METRO_COLUMNS, "file_pattern": "metro_cad_YYYYMMDDTHHMMSS.csv"},
            "demo_metro_incidents": {"format": "parquet", "grain": "one row per offence", "all_strings": True,
                                     "datetime_format": RMS_FMT, "xy_crs": "EPSG:2286", "columns": RMS_COLUMNS,
                                     "empty_values": "null", "file_pattern": "metro_rms_YYYYMMDDTHHMMSS.parquet"},
            "demo_county_calls": {"format": "csv", "encoding": "cp1252", "delimiter": ";", "quote": '"',
                                  "line_terminator": "CRLF", "grain": "one row per call",
                                  "datetime_format": SO_FMT, "epoch_columns_unit": "ms (UTC)",
                                  "columns": COUNTY_COLUMNS, "file_pattern": "so_cad_YYYYMMDD.csv"},
        },
        "volumes": {"metro_calls": mcalls.n, "metro_unit_rows": int(np.maximum(mcalls.n_units, 1).sum()),
                    "metro_incidents": rms.n, "metro_offences": len(rms.o_inc), "county_calls": ccalls.n,
                    "metro_calls_per_day": round(mcalls.n / ND, 2), "metro_incidents_per_day": round(rms.n / ND, 2),
                    "county_calls_per_day": round(ccalls.n / ND, 2), "files": volumes},
        "nights": night_meta,
        "background_density_per_km2_day": meta["background_density_per_km2_day"],
        "hotspots": meta["hotspots"],
        "officer_hotspot": meta["officer_hotspot"],
        "repeat_addresses": meta["repeat_addresses"],
        "common_places": meta["common_places"],
        "near_repeat": meta["near_repeat"],
        "emerging": meta["emerging"],
        "problem": {
            "target_hotspot_id": 1, "center_lon": resp_lon, "center_lat": resp_lat, "radius_m": HOTSPOT_RADIUS,
            "response_date": RESPONSE_DATE.isoformat(), "excess_reduction": RESPONSE_REDUCTION,
            "buffer_ring_m": [HOTSPOT_RADIUS, HOTSPOT_RADIUS + PROBLEM_BUFFER],
            "buffer_expected_change": "none (background only)",
            "pre_window": ["2026-01-01", "2026-05-31"], "post_window": ["2026-06-01", "2026-10-31"],
            "counted_calls": "community-generated (OnView = N)",
            "expected_background_calls_per_day": {
                "target": round(bg * math.pi * r_km**2, 4),
                "buffer_ring": round(bg * math.pi * ((r_km + PROBLEM_BUFFER / 1000) ** 2 - r_km**2), 4)},
            "expected_extra_calls_per_day": {"before": round(extra, 4),
                                             "after": round(extra * (1 - RESPONSE_REDUCTION), 4)},
        },
        "notes": [
            "Empty values are empty fields in the CSVs and nulls in the parquet.",
            "Metro calls without a dispatched unit (duplicates, some cancels and 911 hang-ups) have one row "
            "with an empty UnitID.",
            "RMS incidents come from metro calls closed RPT/ARR plus online/front-counter reports (no call).",
            "ADMIN, TS, PC, FI, PATROL are always officer-initiated (OnView=Y); some SUSP and DRUG too.",
            "Local times follow America/Los_Angeles; the fall-back hour repeats, spring-forward times do not exist.",
            "All metro BURG calls / RMS 220 incidents come from the near-repeat process.",
        ],
        "sensitive": {
            "metro_calls": {t: int((mcalls.ftype == TIDX[t]).sum()) for t in ("SEXOFF", "DV")},
            "metro_offences": {c: int((rms.o_code == c).sum()) for c in ("11A", "36B")},
        },
        "data_quality": {
            "metro_calls": {
                "zero_coords": numbers[mcad.err == 1].tolist(), "empty_coords": numbers[mcad.err == 2].tolist(),
                "swapped_coords": numbers[mcad.err == 3].tolist(),
                "empty_received": numbers[mcad.no_recv].tolist(),
                "clear_sentinel": numbers[mcalls.sentinel].tolist(),
                "onscene_before_dispatch_rows": int(mcalls.err_rows.sum()),
                "xyz9_calls": int((mcalls.itype == TIDX["XYZ9"]).sum()),
                "reclassified_calls": int((mcalls.ftype != mcalls.itype).sum()),
                "void_calls": int((mcalls.disp == D["VOID"]).sum()),
                "duplicate_calls": int((mcalls.disp == D["DUP"]).sum()),
                "no_unit_calls": int((mcalls.n_units == 0).sum()),
            },
            "metro_incidents": {
                "empty_xy": rms.number[rms.no_xy].tolist(),
                "to_before_from": int(rms.to_before_from.sum()),
                "deleted": int((rms.status == 3).sum()),
            },
            "county_calls": {"empty_coords": ccalls.number[county.empty].tolist()},
        },
    }


def deliver_night(demo_dir: Path, night: int) -> list[Path]:
    """Copy night N's generated extracts (extracts/night_NN/<source>/) into the demo's landing folders
    (landing/<source>/), as a night's delivery would arrive. Returns the files delivered."""
    out = []
    src_root = Path(demo_dir) / "extracts" / f"night_{night:02d}"
    for src_dir in sorted(p for p in src_root.iterdir() if p.is_dir()):
        dst = Path(demo_dir) / "landing" / src_dir.name
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted(src_dir.iterdir()):
            shutil.copy2(f, dst / f.name)
            out.append(dst / f.name)
    return out
