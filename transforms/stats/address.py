"""Address normalization for crime feeds: block addresses and cleaned full addresses.

Everything is a vectorized polars expression (no per-row Python), meant to run on the
distinct addresses of a feed. Public API: `block_address`, `clean_address`, `STREET_SUFFIXES`.
"""

from __future__ import annotations

import polars as pl

# Variant -> USPS-style standard abbreviation. Applied to the last token of a street name only.
_SUFFIX_GROUPS: dict[str, tuple[str, ...]] = {
    "ALY": ("AL", "ALY", "ALLEY"),  # NOTE: SF writes alleys as "Al" ("Jack Kerouac Al").
    "AVE": ("AV", "AVE", "AVEN", "AVENUE"),
    "BLVD": ("BL", "BLV", "BLVD", "BOULEVARD"),
    "BRG": ("BRG", "BRDG", "BRIDGE"),
    "CIR": ("CIR", "CR", "CIRC", "CIRCLE"),  # NOTE: SF writes circles as "Cr" ("Holly Park Cr").
    "CRES": ("CRES", "CRESCENT"),
    "CSWY": ("CSWY", "CAUSEWAY"),
    "CT": ("CT", "CRT", "COURT"),
    "DR": ("DR", "DRV", "DRIVE"),
    "EXPY": ("EXPY", "EXPWY", "EXPRESSWAY"),
    "FWY": ("FWY", "FREEWAY"),
    "HWY": ("HY", "HWY", "HIGHWAY"),  # NOTE: SF writes "Great Hy".
    "LN": ("LN", "LANE"),
    "PARK": ("PK", "PARK"),
    "PKWY": ("PKY", "PKWY", "PARKWAY"),
    "PL": ("PL", "PLACE"),
    "PLZ": ("PZ", "PLZ", "PLAZA"),  # NOTE: SF writes plazas as "Pz" ("Mint Pz").
    "RD": ("RD", "ROAD"),
    "SQ": ("SQ", "SQUARE"),
    "ST": ("ST", "STR", "STREET"),
    # NOTE: SF "Tr" is Terrace (its own geocoder turns "Wabash Tr" into "Wabash Ter"), not Trail.
    "TER": ("TR", "TER", "TERR", "TERRACE"),
    "TRL": ("TRL", "TRAIL"),
    "WAY": ("WY", "WAY"),  # NOTE: SF writes "Evelyn Wy".
}
STREET_SUFFIXES: dict[str, str] = {v: std for std, variants in _SUFFIX_GROUPS.items() for v in variants}

# Whole-address placeholders meaning "no usable address".
# NOTE: Vancouver masks unknown locations as "X NK_LOC ST" and person offences as "OFFSET TO PROTECT PRIVACY".
_NULL_RE = r"^(?:UNKNOWN|UNK|N/?A|NONE|NULL|[-?]*)$|NK_LOC|OFFSET TO PROTECT PRIVACY"
# Intersection separators: "/", "\", "&", "@", " AND ", " AT ".
# NOTE: SF mixes "Market St/5th St", "Mission & 30th", "Judah And La Playa", "Brannan St At 3rd St".
_SEP_RE = r"\s*(?:/|\\+|&|@)\s*|\s+(?:AND|AT)\s+"
# Unit designators followed by an id ("APT 5", "STE 100"); \b keeps "STEVENS" and "UNITED" intact.
_UNIT_RE = r"\s+(?:APT|APARTMENT|UNIT|STE|SUITE|RM|ROOM|BLDG|SPC|FLR|FLOOR)\b\s*#?\s*[A-Z0-9-]+.*$"
_BLOCK_WORD = r"(?:BLOCK|BLK)(?: OF)?"
# house number: optional letter suffix (12A, 1242-B) and range (1605-1607)
_NUM_TAIL = r"(?:-?[A-Z])?(?:-\d+[A-Z]?)?"
_NUM = r"\d+" + _NUM_TAIL
# a unit written BEFORE the house number: "APT 4 1234 ELM ST", "#5 1234 ELM ST", "UNIT B 1236 ELM ST"
_UNIT_FIRST_RE = r"^(?:#|(?:APT|APARTMENT|UNIT|STE|SUITE|RM|ROOM|SPC)\s*#?)\s*[A-Z0-9-]+\s+(\d)"
_DIR = r"(?:[NS][EW]?|[EW])"


def _clean_sides(df: pl.LazyFrame) -> pl.LazyFrame:
    """Clean column `side` (one street: a whole address or one side of an intersection); empty -> null.
    Each step is its own `with_columns` so reused intermediates (mask, num, street) are computed once."""
    side = pl.col("side")
    df = df.with_columns(
        side.str.replace_all("_", " ", literal=True)  # NOTE: Vancouver writes "18XX TED_NORTHE LANE".
        .str.strip_chars()
        .str.replace(_UNIT_FIRST_RE, "$1")
        # NOTE: SF puts units and floors after "#": "680 Florida St #317", "400 Block Of Stockton St #6th Flr".
        .str.replace(r"\s*#.*$", "")
        .str.replace(_UNIT_RE, "")
        .str.replace(r"\s+\d+(?:ST|ND|RD|TH) (?:FL|FLR|FLOOR)$", "")  # "4TH FLR"
        .str.replace(rf"^UNIT {_BLOCK_WORD} ", "0 BLOCK ")  # "UNIT BLOCK OF" is the 0 block (PA/DC style)
        .str.replace(r"^(\d+[A-Z]?) ?- ?(\d+[A-Z]?) ", "$1-$2 ")
        # NOTE: SF writes "1700 Block Of Jerrold Av", "900 Blk Mission St", "2400-3100 Blk Of San Bruno Ave".
        .str.replace(rf"^(\d+(?:-\d+)?) {_BLOCK_WORD} ", "$1 BLOCK ")
        # NOTE: SF has "Block Of Turk St" with no number: keep the street only.
        .str.replace(rf"^{_BLOCK_WORD} ", ""),
    )
    # NOTE: Vancouver masks the low digits: "10XX ALBERNI ST", "X W 22ND AVE", "20XX BLOCK MACDONALD ST".
    df = df.with_columns(mask=side.str.extract(r"^(\d*X+) ", 1))
    df = df.with_columns(
        pl.when(pl.col("mask").is_not_null())
        .then(
            pl.col("mask").str.replace_all("X", "0", literal=True)
            + " BLOCK "
            + side.str.replace(rf"^\d*X+ (?:{_BLOCK_WORD} )?", "")
        )
        .otherwise(side)
        .alias("side")
    )
    # Split off the house number, then standardize the street suffix: the last token, or the token before a
    # trailing directional ("BUENA VISTA AV W"). A lone token ("AVENUE" in "AVENUE B") is never a suffix.
    df = df.with_columns(
        num=side.str.extract(rf"^({_NUM} (?:BLOCK )?)", 1).fill_null(""),
        street=side.str.replace(rf"^{_NUM} (?:BLOCK )?", ""),
    )
    df = df.with_columns(
        d=pl.col("street").str.extract_groups(rf"^(.*\S) (\S+) ({_DIR})$"),
        p=pl.col("street").str.extract_groups(r"^(.*\S) (\S+)$"),
    )
    d, p = pl.col("d").struct, pl.col("p").struct
    df = df.with_columns(
        pl.when(d[0].is_not_null())
        .then(pl.concat_str(d[0], d[1].replace(STREET_SUFFIXES), d[2], separator=" "))
        .when(p[0].is_not_null())
        .then(pl.concat_str(p[0], p[1].replace(STREET_SUFFIXES), separator=" "))
        .otherwise(pl.col("street"))
        .alias("street")
    )
    # NOTE: a dropped unit can leave a dangling dash: SF "Fire Training Academy - Bldg 600, Ti".
    df = df.with_columns((pl.col("num") + pl.col("street")).str.strip_chars(" -").alias("side"))
    return df.with_columns(pl.when(side != "").then(side).alias("side"))


def _clean_lf(s: pl.Series) -> pl.LazyFrame:
    """Lazy frame with column `c`: the cleaned address, in the order of `s`."""
    a = pl.col("a")
    df = s.cast(pl.Utf8).to_frame("a").lazy().with_row_index("i")
    df = df.with_columns(
        a.str.to_uppercase()
        # NOTE: SF geocoder output carries ", San Francisco, California, 94124"; SF common names end ", Sf".
        .str.replace(r",.*$", "")
        .str.replace(r"^(\d+)\.\d+ ", "$1 ")  # "1234.5 ELM ST": a decimal house number, not 12345
        # NOTE: SF "424 Brannan St.", "6th St. & Mission St."; "O'FARRELL" and SF's "OFARRELL" must match.
        .str.replace_all(r"[.']", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    df = df.with_columns(pl.when(a.str.contains(_NULL_RE)).then(None).otherwise(a).alias("a"))
    df = df.with_columns(
        side=a.str.replace(r"^(\d+) 1/2 ", "$1 ")  # "12 1/2 MAIN ST": the fraction is not an intersection
        .str.replace_all(_SEP_RE, "/")
        .str.split("/")
    ).explode("side")
    c = pl.col("c")
    return (
        _clean_sides(df)
        # sorted sides: "W HASTINGS ST / ABBOTT ST" and "ABBOTT ST / W HASTINGS ST" give one key
        .sort("i", "side")
        .group_by("i", maintain_order=True)
        .agg(c=pl.col("side").drop_nulls().str.join(" / "))
        .select(pl.when(c != "").then(c).alias("c"))
    )


def clean_address(s: pl.Series) -> pl.Series:
    """Full address, cleaned: upper case, single spaces, no comma tail or unit, suffix standardized,
    intersections as sorted streets joined by " / ", block-style inputs as "1700 BLOCK JERROLD AVE".
    Null for empty/unknown."""
    return _clean_lf(s).collect().to_series().alias(s.name)


def block_address(s: pl.Series) -> pl.Series:
    """Block address: like `clean_address`, with the house number floored to its hundred
    ("1605 WHALLEY AVE" -> "1600 BLOCK WHALLEY AVE"). Intersections and number-less streets pass as cleaned."""
    c, g = pl.col("c"), pl.col("g").struct
    num = g[0].cast(pl.Int64, strict=False)
    block = pl.concat_str((num // 100 * 100).cast(pl.Utf8), pl.lit(" BLOCK "), g[1])
    return (
        _clean_lf(s)
        .with_columns(g=c.str.extract_groups(rf"^(\d+){_NUM_TAIL} (?:BLOCK )?(.+)$"))
        .select(pl.when(c.str.contains(" / ", literal=True) | num.is_null()).then(c).otherwise(block))
        .collect()
        .to_series()
        .alias(s.name)
    )
