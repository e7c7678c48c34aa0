"""marts.hotspot_audit: who drives the map (sql/marts/hotspot_audit.sql).

Hot spots made of officer-initiated activity show where officers chose to go; fed back into deployment, they
grow. Per agency, dataset and window, for the 99 % hot grid cells (Gi* on every origin) and for the top repeat
places: the share of their events that are officer-initiated, the share of their calls in the enforcement-
sensitive natures (`[analysis] enforcement_natures`), and how many hot cells are not hot when Gi* runs on
community-generated events alone (the origin 'community' combination of marts.hotspot_stats).
"""

from __future__ import annotations

import duckdb

from transforms.config import Settings
from transforms.marts.models import run_model
from transforms.warehouse.natures import taxonomy


def checked_natures(codes: list[str]) -> list[str]:
    """The enforcement-sensitive natures, each checked against the taxonomy (a misspelled code would silently
    count nothing)."""
    known = set(taxonomy()["code"].to_list())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(f"[analysis] enforcement_natures: {unknown} not a nature code of "
                         f"config/taxonomy/call_natures.csv")
    return list(codes)


def build_audit(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """marts.hotspot_audit (after hotspots and repeat_locations); returns its number of rows."""
    an = settings.sara.analysis
    run_model(con, "hotspot_audit", sensitive_natures=checked_natures(an.enforcement_natures),
              top_places=an.audit_top_places, repeat_window_days=an.repeat_window_days)
    return con.execute("SELECT count(*) FROM marts.hotspot_audit").fetchone()[0]
