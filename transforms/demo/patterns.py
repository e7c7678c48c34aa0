"""Where and when calls happen: background rates, hour profiles and the planted patterns (hot spots, an
emerging hot spot, repeat addresses, an officer-initiated hot spot, common places, near-repeat burglaries,
duplicate calls). The output is the raw calls of each agency, before units, times and dispositions,
plus what was planted (for the manifest)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date, timedelta
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from transforms.demo.codes import (
    OFFICER_MIX_COUNTY,
    OFFICER_MIX_METRO,
    TYPE_INDEX,
    community_mix,
    draw_types,
    p_intersection,
)
from transforms.demo.geography import LINE_NAMES, NUMBERS_PER_BLOCK, Geography, intersection_index, to_lonlat
from transforms.demo.timeframe import FIRST_RUN, HISTORY_START, LAST_DAY, N_DAYS, N_NIGHTS, Clock

# --------------------------------------------------------------------------- volumes
METRO_COMMUNITY_PER_DAY = 80.0
METRO_OFFICER_PER_DAY = 36.0
METRO_ONLINE_REPORTS_PER_DAY = 8.0
COUNTY_COMMUNITY_PER_DAY = 20.0
COUNTY_OFFICER_PER_DAY = 10.0
# near-repeat burglaries: a self-exciting (Hawkes) process
BURG_IMMIGRANTS_PER_DAY = 2.0  # background burglaries per day
BURG_BRANCHING = 0.33  # mean number of offspring per burglary
BURG_MEAN_DAYS, BURG_MAX_DAYS = 1.5, 7.0  # offspring delay: exponential, truncated
BURG_MAX_M = 200.0  # offspring distance: uniform in a disc

# relative call volume by local hour 0..23
HOUR_COMMUNITY = [4.6, 3.8, 3.0, 2.2, 1.6, 1.4, 1.8, 2.6, 3.4, 4.0, 4.6, 5.0,
                  5.3, 5.4, 5.6, 5.8, 6.0, 6.1, 6.1, 5.9, 5.7, 5.5, 5.3, 5.0]
HOUR_OFFICER = [6.0, 5.0, 4.0, 3.0, 1.5, 1.0, 1.0, 2.0, 3.5, 4.0, 4.0, 4.0,
                3.5, 3.5, 4.0, 4.5, 5.0, 5.0, 5.0, 5.5, 6.0, 6.5, 7.0, 7.0]
HOUR_BURG = [1.5, 1.2, 1.0, 1.0, 1.0, 1.2, 2.0, 3.0, 4.0, 4.5, 4.8, 5.0,
             5.0, 5.0, 5.0, 5.0, 4.8, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.8]
HOUR_DAYTIME = [0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 1, 2, 4, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1.5, 1, 0.8, 0.6]

# ------------------------------------------------------------------ planted patterns
HOTSPOTS = [(-2000.0, 1100.0), (2600.0, -1700.0), (-3800.0, -2100.0)]  # local metres, intersections
HOTSPOT_RADIUS_M, HOTSPOT_MULT = 150.0, 8.0
HOTSPOT1_MULT = 14.0  # the problem hot spot: stronger, so it is still a 99 % hot spot after its 60 % drop
RESPONSE_DATE = date(2026, 6, 1)  # problem-solving response at hot spot #1
RESPONSE_REDUCTION, PROBLEM_BUFFER_M = 0.60, 400.0
EMERGING_CENTER, EMERGING_EXCESS = (3400.0, 2300.0), 40.0  # extra calls = 40x the background
EMERGING_END = FIRST_RUN + timedelta(days=N_NIGHTS - 1)  # 2026-11-21 (exclusive)
EMERGING_START = EMERGING_END - timedelta(weeks=4)  # 2026-10-24
OFFICER_HOTSPOT = ("MAIN ST", "38TH ST")  # intersection (x=0, y=3100)
OFFICER_HOTSPOT_PER_YEAR, OFFICER_HOTSPOT_TS_SHARE = 100, 0.80


class RepeatAddress(NamedTuple):
    address: str
    place_name: str  # common place name ("" for a private address)
    calls_per_year: int
    type_mix: dict[str, float]  # call type -> weight


REPEATS = [
    RepeatAddress("1210 MAIN ST", "QUIK MART", 400,
                  {"THEFT": 5, "DIST": 3, "TRESP": 3, "SUSP": 2, "ASLT": 1, "ROB": 0.5, "WELF": 1, "DRUG": 1,
                   "ALARM": 0.5}),
    RepeatAddress("2813 PACIFIC AVE", "MOTEL 8", 320,
                  {"DRUG": 3, "DIST": 3, "DV": 2, "WELF": 2, "NOISE": 2, "TRESP": 1, "MH": 1, "THEFT": 1,
                   "FRAUD": 0.5, "SEXOFF": 0.2}),
    RepeatAddress("3502 LINDEN AVE", "RIVERTON MALL", 250,
                  {"THEFT": 6, "ALARM": 2, "SUSP": 2, "DIST": 1, "VEHTHEFT": 1, "PARK": 1, "LOST": 1, "JUV": 1}),
    RepeatAddress("834 ELM AVE", "", 200,
                  {"DV": 4, "DIST": 3, "NOISE": 2, "WELF": 2, "MH": 2, "CIVIL": 1, "911HU": 1}),
    RepeatAddress("2417 14TH ST", "", 150,
                  {"NOISE": 3, "DIST": 3, "DV": 2, "DRUG": 1, "THEFT": 1, "VAND": 1, "PARK": 1, "WELF": 1}),
]
COMMON_PLACES = ["GREYHOUND STATION", "CITY PARK", "RIVERTON HIGH SCHOOL", "SAFEWAY", "WALMART",
                 "CITY HALL", "PUBLIC LIBRARY", "RIVERTON MEMORIAL HOSPITAL", "FRED MEYER",
                 "SHELL STATION", "CHEVRON", "DENNYS", "TACO BELL", "RIVERSIDE APTS", "SUNSET MOTEL",
                 "SKATE PARK", "TRANSIT CENTER", "DOLLAR TREE", "CASCADE BOWL", "LIQUOR BARN"]
COMMON_PLACE_PER_YEAR = (50, 100)  # spread over the places; always below the repeat addresses
PLACE_NAMES = [r.place_name for r in REPEATS] + COMMON_PLACES  # a call's place index points in here


class Origin(IntEnum):
    """The process a raw call comes from."""
    BACKGROUND = 0
    OFFICER = 1
    BURGLARY = 2
    HOTSPOT = 3
    EMERGING = 4
    REPEAT = 5
    OFFICER_HOTSPOT = 6
    COMMON_PLACE = 7
    DUPLICATE = 8


@dataclass
class RawCalls:
    """One agency's calls before units, times and dispositions (parallel arrays, one entry per call)."""
    received: np.ndarray  # UTC epoch seconds
    location: np.ndarray  # location id (geography)
    call_type: np.ndarray  # initial call-type index
    on_view: np.ndarray  # officer-initiated
    origin: np.ndarray  # Origin
    pattern_index: np.ndarray  # which hot spot / repeat address, or the burglary generation; -1 if none
    place: np.ndarray  # index into PLACE_NAMES; -1 if none
    duplicate_source: np.ndarray  # for a duplicate, the index of the call it repeats; -1 if none

    @classmethod
    def part(cls, received, location, call_type, on_view, origin: Origin, pattern_index=None,
             place=None) -> RawCalls:
        n = len(received)

        def per_call(v):
            return np.full(n, -1, np.int64) if v is None else np.broadcast_to(np.asarray(v), (n,)).astype(np.int64)

        return cls(received=np.asarray(received, np.int64), location=np.asarray(location, np.int64),
                   call_type=np.asarray(call_type, np.int64),
                   on_view=np.broadcast_to(np.asarray(on_view, bool), (n,)).copy(),
                   origin=np.full(n, origin, np.int64), pattern_index=per_call(pattern_index),
                   place=per_call(place), duplicate_source=np.full(n, -1, np.int64))

    @classmethod
    def concat(cls, parts: list[RawCalls]) -> RawCalls:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, idx: np.ndarray) -> RawCalls:
        return RawCalls(*(getattr(self, f.name)[idx] for f in fields(self)))

    def __len__(self) -> int:
        return len(self.received)


def hawkes_burglaries(rng, geo: Geography, clock: Clock, scale: float):
    """Self-exciting residential burglaries: immigrants ~ Poisson, each burglary has
    Poisson(BRANCHING) offspring 0..MAX_M metres and 0..MAX_DAYS days later.
    Returns (time, location, generation, parent) arrays."""
    days = clock.poisson_days(rng, BURG_IMMIGRANTS_PER_DAY * scale)
    t = Clock.times(rng, days, HOUR_BURG)
    loc = geo.sample(rng, len(t), p_intersection=0.0)
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
        has = ok.any(axis=1) & (ct <= clock.last_instant)
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


def knox(x, y, t, ds, dt_days):
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


def _lonlat7(x, y) -> tuple[float, float]:
    lon, lat = to_lonlat(x, y)
    return round(float(lon), 7), round(float(lat), 7)


def metro_raw_calls(rng, geo: Geography, clock: Clock, scale: float) -> tuple[RawCalls, dict]:
    """All metro call components (before units, times and dispositions) and what was planted."""
    years = N_DAYS / 365.25
    comm = community_mix()
    parts, meta = [], {}

    # background community calls, uniform over the city
    days = clock.poisson_days(rng, METRO_COMMUNITY_PER_DAY * scale)
    ct = draw_types(rng, comm, len(days))
    parts.append(RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY),
                               geo.sample(rng, len(days), p_intersection(ct)), ct, False, Origin.BACKGROUND))
    # officer-initiated calls; a third of traffic stops on the arterials MAIN ST / RIVER RD
    days = clock.poisson_days(rng, METRO_OFFICER_PER_DAY * scale)
    ct = draw_types(rng, OFFICER_MIX_METRO, len(days))
    loc = geo.sample(rng, len(days), p_intersection(ct))
    arterial_lines = [LINE_NAMES.index("MAIN ST"), LINE_NAMES.index("RIVER RD")]
    arterial_ids = geo.house_ids[np.isin(geo.house_line[geo.house_ids], arterial_lines)]
    move = (ct == TYPE_INDEX["TS"]) & (rng.random(len(ct)) < 0.33) & (loc < geo.n_houses)
    loc[move] = arterial_ids[rng.integers(0, len(arterial_ids), move.sum())]
    parts.append(RawCalls.part(clock.times(rng, days, HOUR_OFFICER), loc, ct, True, Origin.OFFICER))

    # near-repeat burglaries
    bt, bl, bg, _ = hawkes_burglaries(rng, geo, clock, scale)
    parts.append(RawCalls.part(bt, bl, np.full(len(bt), TYPE_INDEX["BURG"]), False, Origin.BURGLARY,
                               pattern_index=bg))
    meta["near_repeat"] = {
        "offense_code": "220", "call_type": "BURG",
        "description": "All metro BURG calls (and RMS 220 incidents) come from a self-exciting process.",
        "immigrant_rate_per_day": BURG_IMMIGRANTS_PER_DAY * scale, "branching_ratio": BURG_BRANCHING,
        "spatial_kernel": "uniform in a disc, snapped to the nearest house number",
        "max_distance_m": BURG_MAX_M, "temporal_kernel": "exponential truncated at max_days",
        "mean_days": BURG_MEAN_DAYS, "max_days": BURG_MAX_DAYS,
        "n_burglaries": int(len(bt)), "n_immigrants": int((bg == 0).sum()), "n_offspring": int((bg > 0).sum()),
        "max_generation": int(bg.max()) if len(bg) else 0,
        "knox_cad_burg_200m_7d": knox(geo.x[bl], geo.y[bl], bt.astype(float), BURG_MAX_M, BURG_MAX_DAYS),
    }

    # background density of community calls (per km2 per day, at this scale)
    bg_density = (METRO_COMMUNITY_PER_DAY + BURG_IMMIGRANTS_PER_DAY / (1 - BURG_BRANCHING)) * scale / geo.city_km2
    circle_km2 = math.pi * (HOTSPOT_RADIUS_M / 1000) ** 2
    response_day = clock.day_of(RESPONSE_DATE)

    # hot spots: (mult - 1) x background of extra community calls; #1 drops by 60% after the response
    hotspots = []
    for h, (cx, cy) in enumerate(HOTSPOTS):
        mult = HOTSPOT1_MULT if h == 0 else HOTSPOT_MULT
        rate = (mult - 1) * bg_density * circle_km2  # extra calls per day
        if h == 0:
            n_pre = round(rate * response_day)
            n_post = round(rate * (1 - RESPONSE_REDUCTION) * (N_DAYS - response_day))
            days = np.r_[clock.fixed_days(rng, n_pre, 0, response_day - 1),
                         clock.fixed_days(rng, n_post, response_day)]
        else:
            n_pre = n_post = None
            days = clock.fixed_days(rng, round(rate * N_DAYS))
        ct = draw_types(rng, comm, len(days))
        loc = geo.sample(rng, len(days), p_intersection(ct), within=(cx, cy, HOTSPOT_RADIUS_M - 10))
        parts.append(RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY), loc, ct, False, Origin.HOTSPOT,
                                   pattern_index=h))
        lon, lat = _lonlat7(cx, cy)
        hotspots.append({"id": h + 1, "intersection": geo.address[geo.n_houses + intersection_index(cx, cy)],
                         "center_lon": lon, "center_lat": lat,
                         "radius_m": HOTSPOT_RADIUS_M, "density_multiplier": mult,
                         "extra_calls": int(len(days)),
                         "extra_calls_before_response": n_pre, "extra_calls_after_response": n_post,
                         "period": [HISTORY_START.isoformat(), LAST_DAY.isoformat()]})
    meta["hotspots"] = hotspots
    meta["background_density_per_km2_day"] = round(bg_density, 6)

    # emerging hot spot: nothing extra until the last 4 weeks, then an excess of 40x background each week
    cx, cy = EMERGING_CENTER
    per_week = max(1, round(EMERGING_EXCESS * bg_density * circle_km2 * 7))
    e0 = clock.day_of(EMERGING_START)
    days = np.concatenate([clock.fixed_days(rng, per_week, e0 + 7 * w, e0 + 7 * w + 6) for w in range(4)])
    ct = draw_types(rng, comm, len(days))
    loc = geo.sample(rng, len(days), p_intersection(ct), within=(cx, cy, HOTSPOT_RADIUS_M - 10))
    parts.append(RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY), loc, ct, False, Origin.EMERGING))
    lon, lat = _lonlat7(cx, cy)
    meta["emerging"] = {
        "center_lon": lon, "center_lat": lat, "radius_m": HOTSPOT_RADIUS_M,
        "intersection": geo.address[geo.n_houses + intersection_index(cx, cy)],
        "start": EMERGING_START.isoformat(), "end": (EMERGING_END - timedelta(days=1)).isoformat(),
        "weeks": [[(EMERGING_START + timedelta(weeks=w)).isoformat(),
                   (EMERGING_START + timedelta(weeks=w, days=6)).isoformat()] for w in range(4)],
        "excess_multiplier": EMERGING_EXCESS, "extra_calls_per_week": per_week,
        "expected_background_calls_per_week": round(bg_density * circle_km2 * 7, 3),
        "expected_class": "consecutive",
        "note": "no extra activity before start; the last weeks arrive partly in nights 2..6",
    }

    # repeat addresses (deterministic counts so they always top the ranking)
    repeats = []
    for r, rep in enumerate(REPEATS):
        n = round(rep.calls_per_year * years * scale)
        days = clock.fixed_days(rng, n)
        loc = np.full(n, geo.location_of(rep.address))
        parts.append(RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY), loc, draw_types(rng, rep.type_mix, n),
                                   False, Origin.REPEAT, pattern_index=r, place=r if rep.place_name else -1))
        lon, lat = _lonlat7(geo.x[loc[0]], geo.y[loc[0]])
        repeats.append({"rank": r + 1, "address": rep.address, "common_place": rep.place_name,
                        "calls_per_year": rep.calls_per_year, "planted_calls": n, "lon": lon, "lat": lat})
    meta["repeat_addresses"] = repeats

    # officer-initiated hot spot: one intersection, ~80% traffic stops
    oh = geo.location_of(f"{OFFICER_HOTSPOT[0]} & {OFFICER_HOTSPOT[1]}")
    n = round(OFFICER_HOTSPOT_PER_YEAR * years * scale)
    is_ts = rng.permutation(np.arange(n) < round(OFFICER_HOTSPOT_TS_SHARE * n))
    ct = np.where(is_ts, TYPE_INDEX["TS"],
                  draw_types(rng, {"TC": 3, "DIST": 2, "SUSP": 2, "WELF": 1, "PARK": 1}, n))
    days = clock.fixed_days(rng, n)
    t = np.where(is_ts, clock.times(rng, days, HOUR_OFFICER), clock.times(rng, days, HOUR_COMMUNITY))
    parts.append(RawCalls.part(t, np.full(n, oh), ct, is_ts, Origin.OFFICER_HOTSPOT))
    lon, lat = _lonlat7(geo.x[oh], geo.y[oh])
    meta["officer_hotspot"] = {"address": geo.address[oh], "lon": lon, "lat": lat,
                               "planted_calls": n, "planted_ts_onview": int(is_ts.sum()),
                               "ts_share": OFFICER_HOTSPOT_TS_SHARE, "radius_m": 50.0}

    # other common places (fixed counts below the repeat addresses), away from every planted pattern
    planted_xy = np.array(HOTSPOTS + [EMERGING_CENTER, (geo.x[oh], geo.y[oh])]
                          + [(geo.x[geo.location_of(r.address)], geo.y[geo.location_of(r.address)])
                             for r in REPEATS])
    h = geo.house_ids
    dmin = np.min(np.hypot(geo.x[h][:, None] - planted_xy[:, 0], geo.y[h][:, None] - planted_xy[:, 1]), axis=1)
    cand = h[dmin > 700]
    places = np.sort(rng.choice(cand, len(COMMON_PLACES), replace=False))
    rates = np.linspace(*COMMON_PLACE_PER_YEAR, len(COMMON_PLACES))
    common_places = []
    for p, (loc_id, rate) in enumerate(zip(places, rates, strict=True)):
        n = round(rate * years * scale)
        days = clock.fixed_days(rng, n)
        parts.append(RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY), np.full(n, loc_id),
                                   draw_types(rng, comm, n), False, Origin.COMMON_PLACE, place=len(REPEATS) + p))
        common_places.append({"name": COMMON_PLACES[p], "address": geo.address[loc_id], "planted_calls": n})
    meta["common_places"] = common_places

    calls = RawCalls.concat(parts)
    return RawCalls.concat([calls, _duplicates(rng, geo, calls)]), meta


def _duplicates(rng, geo: Geography, calls: RawCalls) -> RawCalls:
    """1% of community calls get a second call within 10 minutes nearby."""
    community = np.flatnonzero(~calls.on_view)
    src = np.sort(rng.choice(community, round(0.01 * len(calls)), replace=False))
    dloc = calls.location[src].copy()
    shift = rng.integers(-3, 4, len(src))
    near = dloc + shift  # another number on the same block face
    same_block = ((dloc < geo.n_houses) & (near // NUMBERS_PER_BLOCK == dloc // NUMBERS_PER_BLOCK)
                  & geo.valid[np.clip(near, 0, len(geo.valid) - 1)])
    dloc = np.where(same_block & (rng.random(len(src)) < 0.3), near, dloc)
    dup = RawCalls.part(calls.received[src] + rng.integers(30, 600, len(src)), dloc, calls.call_type[src], False,
                        Origin.DUPLICATE, place=calls.place[src])
    dup.duplicate_source = src
    return dup


def county_raw_calls(rng, geo: Geography, clock: Clock, scale: float) -> RawCalls:
    days = clock.poisson_days(rng, COUNTY_COMMUNITY_PER_DAY * scale)
    # at least one community call a day (only matters at tiny scales): every nightly file then
    # carries a caller name, and one of them per day is forced to use cp1252-only characters
    days = np.sort(np.r_[days, np.setdiff1d(np.arange(N_DAYS), days)])
    ct = draw_types(rng, community_mix(county=True), len(days))
    community = RawCalls.part(clock.times(rng, days, HOUR_COMMUNITY),
                              geo.sample_county(rng, len(days), p_intersection(ct)), ct, False, Origin.BACKGROUND)
    days = clock.poisson_days(rng, COUNTY_OFFICER_PER_DAY * scale)
    ct = draw_types(rng, OFFICER_MIX_COUNTY, len(days))
    officer = RawCalls.part(clock.times(rng, days, HOUR_OFFICER),
                            geo.sample_county(rng, len(days), p_intersection(ct)), ct, True, Origin.OFFICER)
    return RawCalls.concat([community, officer])
