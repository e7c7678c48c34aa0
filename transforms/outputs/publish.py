"""`sara publish`: the public open-data extract of core.calls / core.incidents, written as files.

The rows are masked by transforms/stats/masking.py (its docstring states every rule) under the [publish]
policy of sara.toml (transforms/config/publish.py); this module writes what they return: CSV, GeoJSON
(EPSG:4326, RFC 7946), the extract's data dictionary (transforms/outputs/dictionary.py) and the masking log,
into the output folder atomically (transforms/outputs/atomic.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl

from transforms.config.publish import PublishPolicy
from transforms.outputs.atomic import atomic_files
from transforms.outputs.dictionary import extract_dictionary
from transforms.stats.masking import mask_events, notes

__all__ = ["PublishPolicy", "geojson", "publish_events", "write_extract"]


def publish_events(df: pl.DataFrame, dataset: str, policy: PublishPolicy | None = None, *,
                   has_juvenile_flag: bool, analysis_crs: str, timezone: str = "UTC",
                   ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Public rows of core.calls (`dataset="calls"`) or core.incidents (`"incidents"`) and their masking log,
    under `policy` (the default policy when None); see transforms.stats.masking.mask_events."""
    return mask_events(df, dataset, policy or PublishPolicy(), has_juvenile_flag=has_juvenile_flag,
                       analysis_crs=analysis_crs, timezone=timezone)


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def geojson(public_df: pl.DataFrame, lon_col: str = "lon", lat_col: str = "lat") -> dict:
    """A FeatureCollection (EPSG:4326, RFC 7946): points from lon/lat, null geometry where either is null."""
    feats = []
    for row in public_df.to_dicts():
        lon, lat = row.pop(lon_col, None), row.pop(lat_col, None)
        geom = None
        if lon is not None and lat is not None and math.isfinite(lon) and math.isfinite(lat):
            geom = {"type": "Point", "coordinates": [lon, lat]}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {k: _json_value(v) for k, v in row.items()}})
    return {"type": "FeatureCollection", "features": feats}



def write_extract(public_df: pl.DataFrame, out_dir: str | Path, name: str, lon_col: str = "lon",
                  lat_col: str = "lat", *, policy: PublishPolicy, dataset: str,
                  masking_log: pl.DataFrame | None = None) -> list[Path]:
    """Write `<name>.csv`, `<name>.geojson` and `<name>_dictionary.md` (plus `<name>_masking_log.csv` when a
    log is given) atomically: into a temporary folder inside out_dir, then each file renamed into place.
    Refuses a frame with any column outside the policy's allowlist. Returns the paths written."""
    allowed = policy.allowlist(dataset)
    extra = [c for c in public_df.columns if c not in allowed]
    if extra:
        raise ValueError(f"refusing to publish columns not in the {dataset} allowlist: {extra}")
    with atomic_files(Path(out_dir), "publish") as stage:
        tmp = stage.path
        public_df.write_csv(tmp / f"{name}.csv")
        (tmp / f"{name}.geojson").write_text(
            json.dumps(geojson(public_df, lon_col, lat_col), ensure_ascii=False, default=str), encoding="utf-8")
        extra_notes = notes(masking_log) if masking_log is not None else []
        (tmp / f"{name}_dictionary.md").write_text(extract_dictionary(policy, dataset, extra_notes),
                                                   encoding="utf-8")
        if masking_log is not None:
            masking_log.write_csv(tmp / f"{name}_masking_log.csv")
    return stage.written
