"""Text the vendor files carry: people's names, phone numbers, narratives, record numbers, and the
renderers of times and fixed-decimal numbers as strings."""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.demo.codes import CALL_TYPE_CODES
from transforms.demo.timeframe import TZ

FIRST_NAMES = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID",
               "ELIZABETH", "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA", "THOMAS", "SARAH",
               "CHRISTOPHER", "KAREN", "DANIEL", "LISA", "MATTHEW", "NANCY", "ANTHONY", "BETTY", "MARK",
               "SANDRA", "DONALD", "ASHLEY", "MARIA", "JOSE", "CARLOS", "ANA", "LUIS", "ROSA", "MIGUEL",
               "SOFIA", "KEVIN", "AMANDA"]
LAST_NAMES = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ",
              "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE",
              "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "SANCHEZ", "CLARK",
              "RAMIREZ", "LEWIS", "ROBINSON", "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "TORRES",
              "NGUYEN", "HILL", "FLORES"]
ACCENTED_FIRST_NAMES = ["José", "Zoë", "Renée", "François", "Andrés", "Mónica", "Noémi", "Björn", "Inés", "Raúl"]
ACCENTED_LAST_NAMES = ["Peña", "Café", "Núñez", "Müller", "García", "Rodríguez", "Hernández", "Gómez", "Ibáñez",
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
NARRATIVE_SUFFIXES = ["", "", "", "", ", RP WILL MEET OFCR OUT FRONT", ", NO WEAPONS SEEN",
                      ' RP STATES SUBJ YELLED "GET OUT"', ", SUBJ LAST SEEN NB ON FOOT",
                      ", RP REQ NO CONTACT", " PER RP", ", 2ND CALL ON THIS"]


def take(values: list, idx: np.ndarray) -> np.ndarray:
    """values[idx] for a Python list (object array)."""
    return np.array(values, dtype=object)[idx]


def people(rng, n: int, accent_share: float, proper: bool) -> pl.Series:
    """n names, accent_share of them accented; "José Peña" when proper, else "PENA, JOSE"-style upper case."""
    first, last = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    accented = rng.random(n) < accent_share
    a_first, a_last = rng.integers(0, len(ACCENTED_FIRST_NAMES), n), rng.integers(0, len(ACCENTED_LAST_NAMES), n)
    df = pl.DataFrame({"f": np.where(accented, take(ACCENTED_FIRST_NAMES, a_first), take(FIRST_NAMES, first)),
                       "l": np.where(accented, take(ACCENTED_LAST_NAMES, a_last), take(LAST_NAMES, last))})
    if proper:
        return df.select(pl.col("f").str.to_titlecase() + " " + pl.col("l").str.to_titlecase()).to_series()
    return df.select(pl.col("l").str.to_uppercase() + ", " + pl.col("f").str.to_uppercase()).to_series()


def phones(rng, n: int) -> pl.Series:
    return pl.select("(509) 555-01" + pl.Series(rng.integers(0, 100, n)).cast(pl.Utf8).str.zfill(2)).to_series()


def narratives(rng, call_type: np.ndarray, on_view: np.ndarray, newline_share: float) -> pl.Series:
    """Short free text; caller-related suffixes (commas, quotes, embedded newline) only for
    community calls."""
    n = len(call_type)
    base = np.array([NARRATIVES[t] for t in CALL_TYPE_CODES], dtype=object)  # (types, 2)
    text = base[call_type, rng.integers(0, 2, n)]
    suffix = np.where(on_view, "", take(NARRATIVE_SUFFIXES, rng.integers(0, len(NARRATIVE_SUFFIXES), n)))
    newline = np.where(~on_view & (rng.random(n) < newline_share), "\nUPDATE: RP CALLED BACK, SUBJ GONE", "")
    return pl.select(pl.Series(text, dtype=pl.Utf8) + pl.Series(suffix, dtype=pl.Utf8)
                     + pl.Series(newline, dtype=pl.Utf8)).to_series()


def sequence_numbers(prefix: str, naive_sorted: np.ndarray) -> list:
    """Per-year sequence numbers (`M24-000123`) for records sorted by local time."""
    year = (naive_sorted // 86400).astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    first = np.searchsorted(year, year, side="left")
    seq = np.arange(len(year)) - first + 1
    df = pl.DataFrame({"y": year % 100, "s": seq})
    return df.select(pl.lit(prefix) + pl.col("y").cast(pl.Utf8).str.zfill(2) + "-"
                     + pl.col("s").cast(pl.Utf8).str.zfill(6)).to_series().to_list()


# Time columns hold UTC epoch seconds until rendered; -1 is "no time" and SENTINEL_TIME stands for the
# vendor's placeholder date.
SENTINEL_TIME = -2


def local_time_expr(col: str, fmt: str, sentinel: str | None = None) -> pl.Expr:
    """Int64 UTC epoch seconds column -> local time string; -1 -> null, SENTINEL_TIME -> sentinel."""
    local = pl.from_epoch(pl.col(col), time_unit="s").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ)
    e = pl.when(pl.col(col) >= 0).then(local.dt.strftime(fmt))
    if sentinel is not None:
        e = e.when(pl.col(col) == SENTINEL_TIME).then(pl.lit(sentinel))
    return e.otherwise(None).alias(col)


def fixed_decimal_expr(col: str, decimals: int) -> pl.Expr:
    """Float column -> fixed-decimal string (exact, no float printing), null stays null."""
    v = (pl.col(col) * 10**decimals).round(0).cast(pl.Int64)
    a = v.abs()
    return (pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit(""))
            + (a // 10**decimals).cast(pl.Utf8) + "." + (a % 10**decimals).cast(pl.Utf8).str.zfill(decimals)
            ).alias(col)


def masked_str(name: str, values: np.ndarray, mask: np.ndarray) -> pl.Series:
    """String series with nulls where mask is False."""
    return pl.Series(name, np.asarray(values).astype(str), dtype=pl.Utf8).scatter(np.flatnonzero(~mask), None)
