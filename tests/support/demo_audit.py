"""The demo's planted officer-initiated hot spot (manifest `officer_hotspot`) as the marts see it: its grid
cell's Gi* bins per window and origin, and the hot-spot audit's counts beside the same counts made here from
marts.hotspot_stats (tests/integration/test_hotspot_audit.py, tests/e2e/test_demo_e2e.py)."""

from __future__ import annotations


def officer_hotspot_cell(con, manifest: dict, agency: str = "metro") -> str:
    """The grid cell holding the planted officer hot spot's point (EPSG:32610, the demo's analysis CRS)."""
    oh = manifest["officer_hotspot"]
    return con.execute("SELECT unit_id FROM marts.units WHERE agency = ? AND unit_type = 'grid' "
                       "AND ST_Contains(geom, ST_Point(?, ?))", [agency, oh["x_32610"], oh["y_32610"]]).fetchone()[0]


def officer_hotspot_windows(con, manifest: dict, agency: str = "metro") -> list[dict]:
    """Per window: the cell's gi_bin on every origin, on community and on officer-initiated calls (0 without a
    row), the audit's hot cells and those it says are not hot on community calls alone, and the same two
    counted here from marts.hotspot_stats."""
    cell = officer_hotspot_cell(con, manifest, agency)
    stats = con.execute("""SELECT window_days, origin, unit_id, gi_bin FROM marts.hotspot_stats
                           WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls' AND category_group = 'all'
                             AND origin IN ('all', 'community', 'officer')""", [agency]).fetchall()
    bins: dict[tuple, int] = {(w, o, u): int(b) for w, o, u, b in stats}
    out = []
    for w in sorted({w for w, *_ in stats}):
        hot = [u for (ww, o, u), b in bins.items() if ww == w and o == "all" and b == 3]
        audit = con.execute("SELECT n_units, n_not_hot_on_community FROM marts.hotspot_audit WHERE agency = ? "
                            "AND dataset = 'calls' AND scope = 'hot_cells' AND window_days = ?",
                            [agency, w]).fetchone()
        out.append({"window_days": w, "cell": cell,
                    **{f"bin_{o}": bins.get((w, o, cell), 0) for o in ("all", "community", "officer")},
                    "hot_cells": len(hot), "not_hot_on_community": sum(bins.get((w, "community", u), 0) < 3
                                                                       for u in hot),
                    "audit_hot_cells": audit[0], "audit_not_hot_on_community": audit[1]})
    return out
