"""The whole synthetic city in memory: geography, clock and the three sources, each drawn from its own
numbered random stream so that every part is reproducible on its own."""

from __future__ import annotations

from dataclasses import dataclass

from transforms.demo.calls import Calls
from transforms.demo.geography import Geography
from transforms.demo.incidents import Incidents
from transforms.demo.patterns import county_raw_calls, metro_raw_calls
from transforms.demo.timeframe import N_NIGHTS, Clock, day_date, rng_stream
from transforms.demo.writers import CountyCadFeed, MetroCadFeed

# Random streams, by part of the city
STREAM_METRO_RAW, STREAM_METRO_CALLS, STREAM_METRO_UPDATES, STREAM_METRO_STALE, STREAM_METRO_CAD = 1, 2, 3, 4, 5
STREAM_RMS, STREAM_RMS_UPDATES = 6, 7
STREAM_COUNTY_RAW, STREAM_COUNTY_CALLS, STREAM_COUNTY_UPDATES, STREAM_COUNTY_CAD = 8, 9, 10, 11
STREAM_LATE_EXTRACT = 12  # which calls the late extract carries (drawn while writing the nights)
STREAM_RESTATED = 13  # the calls of night 1's week that the last night reclassifies, voids or first delivers


@dataclass
class DemoCity:
    seed: int
    scale: float
    clock: Clock
    geo: Geography
    planted: dict  # what the patterns planted (manifest entries)
    metro_calls: Calls
    metro_cad: MetroCadFeed
    incidents: Incidents
    county_calls: Calls
    county_cad: CountyCadFeed
    n_stale_calls: int  # calls in the late, stale metro CAD extract (at most)


def build_city(seed: int, scale: float) -> DemoCity:
    clock, geo = Clock(), Geography()
    updates_per_day = max(1, round(3 * scale))  # forced updates per night and earlier day
    n_stale = min(20, max(5, round(20 * scale)))

    # ---- metro CAD
    raw, planted = metro_raw_calls(rng_stream(seed, STREAM_METRO_RAW), geo, clock, scale)
    metro_calls = Calls(rng_stream(seed, STREAM_METRO_CALLS), raw, clock, "M", metro=True)
    metro_calls.force_updates(rng_stream(seed, STREAM_METRO_UPDATES), updates_per_day)
    metro_calls.force_stale(rng_stream(seed, STREAM_METRO_STALE), n_stale + 2)
    metro_cad = MetroCadFeed(rng_stream(seed, STREAM_METRO_CAD), metro_calls, geo, scale)
    # ---- metro RMS
    incidents = Incidents(rng_stream(seed, STREAM_RMS), metro_cad, geo, clock, scale)
    incidents.force_updates(rng_stream(seed, STREAM_RMS_UPDATES), updates_per_day)
    planted["restated"] = _plant_restatements(seed, clock, metro_calls, metro_cad)
    # ---- county CAD
    county_raw = county_raw_calls(rng_stream(seed, STREAM_COUNTY_RAW), geo, clock, scale)
    county_calls = Calls(rng_stream(seed, STREAM_COUNTY_CALLS), county_raw, clock, "SO", metro=False)
    county_calls.force_updates(rng_stream(seed, STREAM_COUNTY_UPDATES), updates_per_day)
    county_cad = CountyCadFeed(rng_stream(seed, STREAM_COUNTY_CAD), county_calls, geo)
    return DemoCity(seed=seed, scale=scale, clock=clock, geo=geo, planted=planted, metro_calls=metro_calls,
                    metro_cad=metro_cad, incidents=incidents, county_calls=county_calls, county_cad=county_cad,
                    n_stale_calls=n_stale)


def _plant_restatements(seed: int, clock: Clock, calls: Calls, cad: MetroCadFeed) -> dict:
    """The last night's changes to metro calls of the week night 1 published (its days but the last), after every
    other draw so that nothing else moves; the manifest's "restated" entry."""
    first = clock.run_day[1]
    faulty = cad.coord_error != 0
    faulty[cad.no_received] = True
    planted = calls.plant_restatements(rng_stream(seed, STREAM_RESTATED), N_NIGHTS, (first - 7, first - 2),
                                       exclude=faulty)
    for entry in planted:
        i = entry.pop("idx")
        entry["call"] = str(calls.number[i])
        entry["local_date"] = day_date(int(calls.day[i])).isoformat()
    return {"night": N_NIGHTS, "published_night": 1, "calls": planted,
            "note": "changes the last night delivers to calls counted in the figures night 1 published: the "
                    "report's restatement section must give each call with its reason"}
