"""manifest.json: what the city is, how each vendor file is shaped, what each night delivered, and every
planted pattern and data-quality fault, so that tests and analysts can check what the pipeline finds."""

from __future__ import annotations

import math

import numpy as np
from pyproj import Transformer

from transforms.demo.city import DemoCity
from transforms.demo.codes import DISPOSITION_INDEX, TYPE_INDEX
from transforms.demo.geography import LAT0, LON0
from transforms.demo.incidents import DELETED
from transforms.demo.patterns import (
    HOTSPOT_MULT,
    HOTSPOT_RADIUS_M,
    PROBLEM_BUFFER_M,
    RESPONSE_DATE,
    RESPONSE_REDUCTION,
)
from transforms.demo.timeframe import FIRST_RUN, HISTORY_END, HISTORY_START, LAST_DAY, N_DAYS, N_NIGHTS, TZ
from transforms.demo.writers import (
    CAD_FMT,
    COORD_EMPTY,
    COORD_SWAPPED,
    COORD_ZERO,
    COUNTY_COLUMNS,
    COUNTY_FMT,
    METRO_COLUMNS,
    RMS_COLUMNS,
    RMS_FMT,
    SENTINEL_DT,
)


def add_utm(manifest: dict) -> None:
    """Add EPSG:32610 coordinates next to every lon/lat pair of the planted patterns."""
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
    items = [*manifest["hotspots"], manifest["emerging"], manifest["problem"], manifest["officer_hotspot"],
             *manifest["repeat_addresses"]]
    for d in items:
        key = "center_" if "center_lon" in d else ""
        x, y = to_utm.transform(d[f"{key}lon"], d[f"{key}lat"])
        d[f"{key}x_32610"], d[f"{key}y_32610"] = round(float(x), 2), round(float(y), 2)


def build_manifest(city: DemoCity, layers: dict, night_entries: list[dict], volumes: dict) -> dict:
    planted, geo = city.planted, city.geo
    mcalls, mcad, rms, ccalls = city.metro_calls, city.metro_cad, city.incidents, city.county_calls
    resp_lon, resp_lat = planted["hotspots"][0]["center_lon"], planted["hotspots"][0]["center_lat"]
    bg, r_km = planted["background_density_per_km2_day"], HOTSPOT_RADIUS_M / 1000
    extra = (HOTSPOT_MULT - 1) * bg * math.pi * r_km**2
    numbers = mcalls.number
    manifest = {
        "generator": "transforms.demo.generate_demo_city", "seed": city.seed, "scale": city.scale,
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
                                  "datetime_format": COUNTY_FMT, "epoch_columns_unit": "ms (UTC)",
                                  "columns": COUNTY_COLUMNS, "file_pattern": "so_cad_YYYYMMDD.csv"},
        },
        "volumes": {"metro_calls": mcalls.n, "metro_unit_rows": int(np.maximum(mcalls.n_units, 1).sum()),
                    "metro_incidents": rms.n, "metro_offences": len(rms.offence_incident), "county_calls": ccalls.n,
                    "metro_calls_per_day": round(mcalls.n / N_DAYS, 2),
                    "metro_incidents_per_day": round(rms.n / N_DAYS, 2),
                    "county_calls_per_day": round(ccalls.n / N_DAYS, 2), "files": volumes},
        "nights": night_entries,
        "background_density_per_km2_day": planted["background_density_per_km2_day"],
        "hotspots": planted["hotspots"],
        "officer_hotspot": planted["officer_hotspot"],
        "repeat_addresses": planted["repeat_addresses"],
        "common_places": planted["common_places"],
        "near_repeat": planted["near_repeat"],
        "emerging": planted["emerging"],
        "restated": planted["restated"],
        "problem": {
            "target_hotspot_id": 1, "center_lon": resp_lon, "center_lat": resp_lat, "radius_m": HOTSPOT_RADIUS_M,
            "response_date": RESPONSE_DATE.isoformat(), "excess_reduction": RESPONSE_REDUCTION,
            "buffer_ring_m": [HOTSPOT_RADIUS_M, HOTSPOT_RADIUS_M + PROBLEM_BUFFER_M],
            "buffer_expected_change": "none (background only)",
            "pre_window": ["2026-01-01", "2026-05-31"], "post_window": ["2026-06-01", "2026-10-31"],
            "counted_calls": "community-generated (OnView = N)",
            "expected_background_calls_per_day": {
                "target": round(bg * math.pi * r_km**2, 4),
                "buffer_ring": round(bg * math.pi * ((r_km + PROBLEM_BUFFER_M / 1000) ** 2 - r_km**2), 4)},
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
            "metro_calls": {t: int((mcalls.final_type == TYPE_INDEX[t]).sum()) for t in ("SEXOFF", "DV")},
            "metro_offences": {c: int((rms.offence_code == c).sum()) for c in ("11A", "36B")},
        },
        "data_quality": {
            "metro_calls": {
                "zero_coords": numbers[mcad.coord_error == COORD_ZERO].tolist(),
                "empty_coords": numbers[mcad.coord_error == COORD_EMPTY].tolist(),
                "swapped_coords": numbers[mcad.coord_error == COORD_SWAPPED].tolist(),
                "empty_received": numbers[mcad.no_received].tolist(),
                "clear_sentinel": numbers[mcalls.clear_sentinel].tolist(),
                "onscene_before_dispatch_rows": int(mcalls.onscene_before_dispatch.sum()),
                "xyz9_calls": int((mcalls.initial_type == TYPE_INDEX["XYZ9"]).sum()),
                "reclassified_calls": int((mcalls.final_type != mcalls.initial_type).sum()),
                "void_calls": int(((mcalls.disposition == DISPOSITION_INDEX["VOID"])
                                   | (mcalls.late_disposition == DISPOSITION_INDEX["VOID"])).sum()),
                "duplicate_calls": int((mcalls.disposition == DISPOSITION_INDEX["DUP"]).sum()),
                "no_unit_calls": int((mcalls.n_units == 0).sum()),
            },
            "metro_incidents": {
                "empty_xy": rms.number[rms.no_xy].tolist(),
                "to_before_from": int(rms.to_before_from.sum()),
                "deleted": int((rms.status == DELETED).sum()),
            },
            "county_calls": {"empty_coords": ccalls.number[city.county_cad.empty_coords].tolist()},
        },
    }
    add_utm(manifest)
    return manifest
