"""Street names and location texts, normalized for matching (vectorized polars; one code path).

- `normalize_street(name)`: upper case, punctuation dropped, suffix standardized on the last token (or the
  token before a trailing directional: AV/AVE/AVENUE -> AVE, transforms/stats/address.py STREET_SUFFIXES),
  directional words abbreviated at either end (WEST WATER -> W WATER, CHURCH SOUTH -> CHURCH S), ordinal
  words as numbers (FIRST -> 1ST, TWENTY FOURTH -> 24TH), and a leading ST/MT/FT spelt out (ST JOHN ST ->
  SAINT JOHN ST; SO GENESEE ST -> S GENESEE ST), a directional word before the suffix moved after it
  (CHURCH SOUTH ST -> CHURCH ST S). A lone word is never abbreviated: NORTH ST stays NORTH ST, PARK stays PARK.
- `base_name(name)`: the normalized name less its suffix (W WATER ST -> W WATER), for feeds that write
  cross streets without suffixes (New Haven's `AMITY/POND LILY`).
- `parse_location(text) -> Parsed` and `parse_frame(series)` (the same, on many texts at once). kind:
    address       `1605 WHALLEY AVE` (number 1605)
    block         `1700 BLOCK JERROLD AVE`, `17XX JERROLD AV`, `0 BLOCK ...` (number = the block's first)
    intersection  `A ST / B ST`, `A/B`, `A & B`, `A AND B`, `A AT B` (streets sorted: one key either way)
    street        a street name alone
    unknown       empty, a placeholder (`UNKNOWN`, `NK_LOC`), or a pseudo-street only (`INTERSECTION`)
  `key` is the text history is matched on: `1605 WHALLEY AVE`, `1700 BLOCK JERROLD AVE`, `A ST / B ST`.
  The first clean-up (units, comma tails, masked digits, block words) is transforms/stats/address.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.stats.address import STREET_SUFFIXES, clean_address

_DIRS = {"NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W", "NORTHEAST": "NE", "NORTHWEST": "NW",
         "SOUTHEAST": "SE", "SOUTHWEST": "SW"}
_DIR_ABBR = set(_DIRS.values())
_ORD_WORDS = ["FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH", "NINTH", "TENTH",
              "ELEVENTH", "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH", "SIXTEENTH", "SEVENTEENTH",
              "EIGHTEENTH", "NINETEENTH"]
_TENS = {"TWENTY": 20, "THIRTY": 30, "FORTY": 40}
_TENS_ORD = {"TWENTIETH": 20, "THIRTIETH": 30, "FORTIETH": 40}
_LEADING = {"ST": "SAINT", "MT": "MOUNT", "FT": "FORT",
            "SO": "S"}  # NOTE: New Haven writes "SO GENESEE ST" for TIGER's "S Genesee St".
_SUFFIX_STD = sorted(set(STREET_SUFFIXES.values()))
# NOTE: New Haven's cross-street field writes "WELTON/INTERSECTION" and "FOUNTAIN/DEAD END": not streets.
PSEUDO_STREETS = ("INTERSECTION", "DEAD END", "DEADEND", "END", "CITY LINE", "TOWN LINE")
KINDS = ("address", "block", "intersection", "street", "unknown")


def _ordinal(n: int) -> str:
    return f"{n}{'TH' if 10 <= n % 100 <= 20 else {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"


def _ordinal_pairs() -> list[tuple[str, str]]:
    """(regex, replacement) for ordinal words, compounds first (TWENTY FOURTH before FOURTH)."""
    out = []
    for tens, t in _TENS.items():
        for i, w in enumerate(_ORD_WORDS[:9], start=1):
            out.append((rf"\b{tens}[ -]?{w}\b", _ordinal(t + i)))
    out += [(rf"\b{w}\b", _ordinal(n)) for w, n in _TENS_ORD.items()]
    out += [(rf"\b{w}\b", _ordinal(i)) for i, w in enumerate(_ORD_WORDS, start=1)]
    return out


_ORDINALS = _ordinal_pairs()


def _std_suffix(tok: pl.Expr) -> pl.Expr:
    return tok.replace(STREET_SUFFIXES)


def normalize_streets(names: pl.Series) -> pl.Series:
    """Street names normalized (see the module docstring); null for null or empty. Each step is its own
    `with_columns`, so the expression tree stays small."""
    s, t = pl.col("s"), pl.col("t")
    df = pl.DataFrame({"s": names.cast(pl.Utf8)}).lazy()
    e = s.str.to_uppercase().str.replace_all(r"[.'`,]", "").str.replace_all(r"[_\s]+", " ").str.strip_chars()
    for pat, rep in _ORDINALS:
        e = e.str.replace_all(pat, rep)
    df = df.with_columns(s=e).with_columns(t=s.str.split(" "))
    df = df.with_columns(n=t.list.len(), first=t.list.first(), last=t.list.last())
    n, first, last = pl.col("n"), pl.col("first"), pl.col("last")
    # a trailing directional word (CHURCH SOUTH, CHURCH ST SOUTH) when something stands before it
    df = df.with_columns(s=pl.when((n >= 2) & last.is_in(list(_DIRS)))
                         .then(s.str.replace(r" \S+$", "") + " " + last.replace(_DIRS)).otherwise(s))
    df = df.with_columns(t=s.str.split(" ")).with_columns(n=t.list.len(), last=t.list.last())
    df = df.with_columns(dt=(n >= 3) & last.is_in(list(_DIR_ABBR)))
    dt = pl.col("dt")
    # the suffix: the last token, or the one before a trailing directional
    df = df.with_columns(
        sfx=pl.when(dt).then(t.list.get(-2, null_on_oob=True)).otherwise(last),
        body=pl.when(dt).then(t.list.slice(0, n - 2)).otherwise(t.list.slice(0, n - 1)).list.join(" "),
        tail=pl.when(dt).then(pl.lit(" ") + last).otherwise(pl.lit("")))
    df = df.with_columns(s=pl.when(n >= 2).then(pl.col("body") + " " + _std_suffix(pl.col("sfx"))
                                               + pl.col("tail")).otherwise(s))
    # NOTE: New Haven's addresses write "CHURCH SOUTH ST" for TIGER's "Church St S": a directional word
    # between the name and its suffix goes after the suffix.
    df = df.with_columns(t=s.str.split(" ")).with_columns(n=t.list.len(), last=t.list.last())
    mid = t.list.get(-2, null_on_oob=True)
    named = (n >= 4) | ~t.list.first().is_in([*_DIRS, *_DIR_ABBR])  # not E SOUTH ST: that is SOUTH ST
    df = df.with_columns(s=pl.when((n >= 3) & named & mid.is_in(list(_DIRS)) & last.is_in(_SUFFIX_STD))
                         .then(t.list.slice(0, n - 2).list.join(" ") + " " + last + " " + mid.replace(_DIRS))
                         .otherwise(s))
    # a leading directional word or ST/MT/FT, when more than a lone suffix follows it
    df = df.with_columns(t=s.str.split(" ")).with_columns(n=t.list.len(), first=t.list.first())
    df = df.with_columns(rest=t.list.slice(1, n - 1).list.join(" "))
    rest = pl.col("rest")
    df = df.with_columns(more=(n >= 3) | ((n == 2) & ~rest.is_in(_SUFFIX_STD)))
    more = pl.col("more")
    df = df.with_columns(s=pl.when(more & first.is_in(list(_DIRS))).then(first.replace(_DIRS) + " " + rest)
                         .when(more & first.is_in(list(_LEADING))).then(first.replace(_LEADING) + " " + rest)
                         .otherwise(s))
    return df.select(pl.when(s != "").then(s)).collect().to_series().alias(names.name)


def base_names(names: pl.Series) -> pl.Series:
    """Normalized names less their suffix token (kept when it is the only word)."""
    t = pl.col("t")
    df = pl.DataFrame({"s": names}).lazy().with_columns(t=pl.col("s").str.split(" "))
    df = df.with_columns(n=t.list.len(), last=t.list.last())
    n, last = pl.col("n"), pl.col("last")
    df = df.with_columns(dt=(n >= 3) & last.is_in(list(_DIR_ABBR)))
    dt = pl.col("dt")
    df = df.with_columns(sfx=pl.when(dt).then(t.list.get(-2, null_on_oob=True)).otherwise(last),
                         drop=pl.when(dt).then(t.list.slice(0, n - 2).list.join(" ") + " " + last)
                         .otherwise(t.list.slice(0, n - 1).list.join(" ")))
    out = pl.when((n >= 2) & pl.col("sfx").is_in(_SUFFIX_STD)).then(pl.col("drop")).otherwise(pl.col("s"))
    return df.select(out).collect().to_series().alias(names.name)


def normalize_street(name: str) -> str:
    """One street name normalized (see the module docstring); '' for an empty one."""
    return normalize_streets(pl.Series([name], dtype=pl.Utf8))[0] or ""


def base_name(name: str) -> str:
    return base_names(pl.Series([normalize_street(name)], dtype=pl.Utf8))[0] or ""


@dataclass(frozen=True)
class Parsed:
    kind: str
    number: int | None
    streets: tuple[str, ...]
    key: str | None


def parse_frame(texts: pl.Series) -> pl.DataFrame:
    """One row per input text, in order: text, kind, number (Int64), street (first street), street2 (second
    street of an intersection), key. Vectorized: run it on distinct texts."""
    cleaned = clean_address(texts.cast(pl.Utf8))
    df = pl.DataFrame({"text": texts.cast(pl.Utf8), "c": cleaned}).with_row_index("_i")
    g = pl.col("c").str.extract_groups(r"^(\d+)(?:-?[A-Z])?(?:-\d+[A-Z]?)? (BLOCK )?(.+)$").struct
    df = df.with_columns(
        inter=pl.col("c").str.contains(" / ", literal=True).fill_null(False),
        num=g[0].cast(pl.Int64, strict=False), blk=g[1].is_not_null(), rest=g[2],
    )
    sides = df.filter("inter").select("_i", s=pl.col("c").str.split(" / ")).explode("s")
    sides = (sides.with_columns(s=normalize_streets(sides["s"]))
             .filter(pl.col("s").is_not_null() & ~pl.col("s").is_in(PSEUDO_STREETS))
             .unique(["_i", "s"]).sort("_i", "s")
             .group_by("_i", maintain_order=True).agg(pl.col("s")))
    df = df.join(sides, on="_i", how="left").sort("_i")
    plain = pl.when(pl.col("num").is_not_null()).then(pl.col("rest")).otherwise(pl.col("c"))
    df = df.with_columns(plain=normalize_streets(df.select(plain).to_series()))
    df = df.with_columns(street=pl.when(pl.col("inter")).then(pl.col("s").list.first()).otherwise("plain"),
                         n_sides=pl.col("s").list.len().fill_null(0))
    df = df.with_columns(street=pl.when(pl.col("street").is_in(PSEUDO_STREETS)).then(None)
                         .otherwise(pl.col("street")))
    two = pl.col("inter") & (pl.col("n_sides") >= 2)
    kind = (pl.when(pl.col("street").is_null()).then(pl.lit("unknown"))
            .when(two).then(pl.lit("intersection"))
            .when(pl.col("inter")).then(pl.lit("street"))
            .when(pl.col("num").is_not_null() & pl.col("blk")).then(pl.lit("block"))
            .when(pl.col("num").is_not_null()).then(pl.lit("address"))
            .otherwise(pl.lit("street")))
    df = df.with_columns(kind=kind, street2=pl.when(two).then(pl.col("s").list.get(1, null_on_oob=True)))
    k = pl.col("kind")
    key = (pl.when(k == "intersection").then(pl.col("s").list.join(" / "))
           .when(k == "block").then(pl.format("{} BLOCK {}", "num", "street"))
           .when(k == "address").then(pl.format("{} {}", "num", "street"))
           .when(k == "street").then(pl.col("street")))
    return df.select("text", "kind", number=pl.when(k.is_in(["address", "block"])).then(pl.col("num")),
                     street="street", street2="street2", key=key)


def parse_location(text: str) -> Parsed:
    """One location text parsed (see the module docstring)."""
    r = parse_frame(pl.Series([text], dtype=pl.Utf8)).row(0, named=True)
    streets = tuple(s for s in (r["street"], r["street2"]) if s)
    return Parsed(r["kind"], r["number"], streets, r["key"])
