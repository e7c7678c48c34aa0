"""Build the marts from core: the shared dimensions, spatial units, event-unit assignment and counts.

Dimensions every mart shares (issue 3):
- dataset         calls or incidents
- category_group  named groups of call_category / offense_category from config ('*' = every category)
- origin          all, community, officer, unknown (unknown is its own share, never folded in)
- window_days     windows ending at the run's as_of date, counted on local dates of event_at

as_of is the last complete local day minus the configured data lag (or a fixed date from config), never
"now" itself. Void and non-countable records are left out of every mart (marts.events).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from transforms.config import Settings
from transforms.marts import units as un
from transforms.warehouse.db import SQL_DIR
from transforms.warehouse.geo import agency_area, tag_polygons
from transforms.warehouse.sqlutil import qident, qstr

ORIGINS = ("all", "community", "officer", "unknown")


def as_of_date(settings: Settings, now: datetime | None = None) -> date:
    """The last complete local day minus the data lag, in the first agency's zone (or config's fixed date)."""
    t = settings.sara.time
    if t.as_of is not None:
        return t.as_of
    # a one-agency partition keeps the whole config's as_of
    zone = ZoneInfo(next(iter(settings.whole.sara.agencies.values())).timezone)
    today = (now or datetime.now(tz=zone)).astimezone(zone).date()
    return today - timedelta(days=1 + t.data_lag_days)


def ehsa_first_day(settings: Settings, as_of: date) -> date:
    """The first local date of the emerging hot spot cube (ehsa_steps weeks or months ending at as_of)."""
    an = settings.sara.analysis
    T = an.ehsa_steps
    if an.ehsa_step == "week":
        return as_of - timedelta(days=7 * T - 1)
    y, m = as_of.year, as_of.month - (T - 1)
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def horizon(settings: Settings, as_of: date, problem_list: list | None = None) -> dict[str, date]:
    """The first local date each mart family needs, ending at as_of. The marts read events from the
    earliest of them on (marts.events), so a night's mart cost grows with the windows, not with history."""
    from transforms.marts.compstat import periods

    an = settings.sara.analysis
    need = {
        "windows_days": as_of - timedelta(days=max(settings.sara.windows_days) - 1),
        "repeat_window_days": as_of - timedelta(days=an.repeat_window_days - 1),
        "kde_windows_days": as_of - timedelta(days=max(an.kde_windows_days, default=1) - 1),
        "ehsa_steps": ehsa_first_day(settings, as_of),
        "prediction_period_days": as_of - timedelta(days=2 * an.prediction_period_days - 1),
        "compstat (ytd and the same period last year)": min(min(s, ls) for _, s, _, ls, _ in periods(as_of)),
    }
    for p in problem_list or []:
        need[f"problem {p.name}"] = min(p.pre.start, p.post.start)
    return need


def build_dimensions(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                     problem_list: list | None = None) -> None:
    """marts.agency_zones, marts.category_groups, marts.windows, marts.horizon and marts.events."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    zones = pd.DataFrame({"agency": list(settings.sara.agencies),
                          "timezone": [a.timezone for a in settings.sara.agencies.values()]})
    rows = [(ds, g, c) for ds, groups in settings.sara.analysis.category_groups.items()
            for g, cats in groups.items() for c in cats]
    groups = pd.DataFrame(rows, columns=["dataset", "category_group", "category"])
    windows = pd.DataFrame({
        "window_days": settings.sara.windows_days,
        "start_date": [as_of - timedelta(days=d - 1) for d in settings.sara.windows_days],
        "end_date": [as_of] * len(settings.sara.windows_days),
    })
    for name, df, comment in (
        ("agency_zones", zones, "agency -> IANA time zone, for local dates"),
        ("category_groups", groups, "named groups of categories per dataset; category '*' means every category"),
        ("windows", windows, "analysis windows: local dates start_date..end_date (inclusive), ending at as_of"),
    ):
        con.register("_df", df)
        con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _df")
        con.unregister("_df")
        con.execute(f"COMMENT ON TABLE marts.{name} IS {qstr(comment)}")
    frames = []
    for code in settings.sara.agencies:  # a tracked problem reaches back for its own agency only
        need = horizon(settings, as_of, [p for p in problem_list or [] if p.agency == code])
        hz = pd.DataFrame({"agency": code, "needed_by": list(need), "first_date": list(need.values())})
        hz["is_first"] = hz["first_date"] == min(need.values())
        frames.append(hz)
    hz = pd.concat(frames, ignore_index=True)
    first = min(hz["first_date"])
    con.register("_df", hz)
    con.execute("CREATE OR REPLACE TABLE marts.horizon AS SELECT agency, needed_by, "
                "CAST(first_date AS DATE) AS first_date, is_first FROM _df ORDER BY agency, first_date, needed_by")
    con.unregister("_df")
    con.execute("COMMENT ON TABLE marts.horizon IS 'per agency, the first local date each mart family needs; "
                "marts.events (and so every mart) holds the agency''s events from the earliest of them "
                "(is_first) on'")
    # a UTC bound a day early (no zone is a day off UTC) lets the scan skip old row groups; the exact bound
    # is on the local date
    con.execute("SET VARIABLE sara_first_utc = ?",
                [datetime(first.year, first.month, first.day) - timedelta(days=1)])
    con.execute((SQL_DIR / "marts" / "events.sql").read_text())


@lru_cache(maxsize=8)
def _static_units(signature: str, settings_key: int) -> dict[str, dict[str, un.UnitSet]]:
    """Grid, polygon and street units and the H3 cover of the area: they depend on config only,
    so one process (the demo's several nights) builds them once."""
    settings = _SETTINGS[settings_key]
    an = settings.sara.analysis
    out: dict[str, dict[str, un.UnitSet]] = {}
    for code, ag in settings.sara.agencies.items():
        area = agency_area(str(settings.resolve(ag.boundary)) if ag.boundary else None,
                           tuple(ag.bbox) if ag.bbox else None, ag.crs)
        sets = {"grid": un.grid_units(area, an.cell_size_m, un.grid_origin(area, an.cell_size_m, ag.grid_origin)),
                "h3": un.h3_units(area, ag.crs, an.h3_resolution)}
        for name, layer in ag.unit_layers.items():
            sets[name] = un.polygon_units(str(settings.resolve(layer.path)), layer.field, layer.layer, ag.crs, name)
        if ag.streets:
            s = ag.streets
            sets["street"] = un.street_units(str(settings.resolve(s.path)), s.id_field, s.name_field, s.layer, ag.crs)
        out[code] = sets
    return out


_SETTINGS: dict[int, Settings] = {}


def unit_signature(settings: Settings) -> str:
    an = settings.sara.analysis
    return json.dumps([str(settings.project_dir), an.cell_size_m, an.h3_resolution, an.snap_tolerance_m,
                       {k: a.model_dump() for k, a in settings.sara.agencies.items()}], sort_keys=True, default=str)


def static_units(settings: Settings) -> dict[str, dict[str, un.UnitSet]]:
    _SETTINGS[id(settings)] = settings
    return _static_units(unit_signature(settings), id(settings))


def write_units(con: duckdb.DuckDBPyConnection, settings: Settings, unit_sets: dict[str, dict[str, un.UnitSet]]) -> None:
    """marts.units: every unit of every type per agency, with its geometry (analysis CRS) and area.

    The H3 universe is the cover of the area plus any hex holding a located event (a hex whose centre
    lies outside the boundary can still hold events near it)."""
    an = settings.sara.analysis
    frames = []
    for code, sets in unit_sets.items():
        ag = settings.sara.agencies[code]
        have = set(sets["h3"].unit_id)
        extra = [r[0] for r in con.execute(
            "SELECT DISTINCT unit_id FROM marts.event_units WHERE agency = ? AND unit_type = 'h3'", [code]).fetchall()
            if r[0] not in have]
        for name, u in sets.items():
            if name == "h3" and extra:
                u = un.h3_units_from_cells(sorted(have | set(extra)), ag.crs)
            frames.append(un.to_frame(u, code))
    del an
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    con.register("_units", pa.Table.from_pandas(df, preserve_index=False))
    con.execute(
        """CREATE OR REPLACE TABLE marts.units AS
           SELECT agency, unit_type, unit_id, CAST(ix AS INTEGER) AS ix, CAST(iy AS INTEGER) AS iy, name, area_m2,
                  ST_GeomFromWKB(wkb) AS geom
           FROM _units"""
    )
    con.unregister("_units")
    con.execute("COMMENT ON TABLE marts.units IS 'every spatial unit (grid cell, h3 hex, polygon, street segment) "
                "of every agency, geometry in the agency analysis CRS'")


def build_event_units(con: duckdb.DuckDBPyConnection, settings: Settings,
                      unit_sets: dict[str, dict[str, un.UnitSet]]) -> int:
    """marts.event_units: each located event's unit for every unit type (street: null when unsnapped).

    Incremental: only events that are new or were reloaded since (a different load_id) are assigned;
    rows of events that left marts.events are deleted; a change of the unit settings reassigns everything.
    Returns the number of events assigned in this run.
    """
    an = settings.sara.analysis
    signature = unit_signature(settings)
    con.execute("""CREATE TABLE IF NOT EXISTS marts.event_units (dataset VARCHAR, source VARCHAR, event_id VARCHAR,
                     agency VARCHAR, unit_type VARCHAR, unit_id VARCHAR, load_id VARCHAR)""")
    con.execute("CREATE TABLE IF NOT EXISTS marts.build_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
    old = con.execute("SELECT value FROM marts.build_info WHERE key = 'unit_signature'").fetchone()
    if old is None or old[0] != signature:
        con.execute("DELETE FROM marts.event_units")
        con.execute("INSERT OR REPLACE INTO marts.build_info VALUES ('unit_signature', ?)", [signature])
    con.execute(
        """DELETE FROM marts.event_units WHERE (dataset, source, event_id, load_id) NOT IN
           (SELECT (dataset, source, event_id, load_id) FROM marts.events WHERE is_located)"""
    )
    frames = []
    n_new = 0
    for code, sets in unit_sets.items():
        ev = con.execute(
            """SELECT e.dataset, e.source, e.event_id, e.load_id, e.x, e.y, e.lat, e.lon FROM marts.events e
               WHERE e.agency = ? AND e.is_located AND NOT EXISTS (
                 SELECT 1 FROM marts.event_units u
                 WHERE u.dataset = e.dataset AND u.source = e.source AND u.event_id = e.event_id)""",
            [code]).df()
        if ev.empty:
            continue
        n_new += len(ev)
        x, y = ev["x"].to_numpy(float), ev["y"].to_numpy(float)
        base = ev[["dataset", "source", "event_id", "load_id"]]
        g = sets["grid"]
        ix, iy = un.grid_cell_of(x, y, an.cell_size_m, g.origin)
        gid = pd.Series(np.char.add(np.char.add(ix.astype(str), "_"), iy.astype(str)), dtype=object)
        gid = gid.where(gid.isin(set(g.unit_id)), None).to_numpy(dtype=object)
        frames.append(base.assign(agency=code, unit_type="grid", unit_id=gid))
        frames.append(base.assign(agency=code, unit_type="h3",
                                  unit_id=un.h3_cells_of(ev["lat"].to_numpy(), ev["lon"].to_numpy(), an.h3_resolution)))
        for name in settings.sara.agencies[code].unit_layers:
            layer = gpd_frame(sets[name])
            frames.append(base.assign(agency=code, unit_type=name, unit_id=tag_polygons(x, y, layer)))
        if "street" in sets:
            frames.append(base.assign(agency=code, unit_type="street",
                                      unit_id=un.snap_to_segments(x, y, sets["street"], an.snap_tolerance_m)))
    if frames:
        df = pd.concat(frames, ignore_index=True)
        df["unit_id"] = df["unit_id"].astype(object)
        con.register("_eu", pa.Table.from_pandas(df, preserve_index=False))
        con.execute("INSERT INTO marts.event_units SELECT dataset, source, event_id, agency, unit_type, "
                    "CAST(unit_id AS VARCHAR), load_id FROM _eu")
        con.unregister("_eu")
    con.execute("COMMENT ON TABLE marts.event_units IS 'one row per located event and unit type: the unit it "
                "falls in (street: the nearest segment within snap_tolerance_m, null when farther); kept "
                "incrementally by load_id'")
    return n_new


def gpd_frame(u: un.UnitSet):
    import geopandas as gpd

    return gpd.GeoDataFrame({"unit_id": u.unit_id}, geometry=list(u.geometry))


def build_hotspot_counts(con: duckdb.DuckDBPyConnection) -> None:
    """marts.hotspot_counts: non-zero counts per unit type, unit, dataset, category group, origin, window."""
    con.execute((SQL_DIR / "marts" / "hotspot_counts.sql").read_text())


KEEP = {"event_units", "build_info"}  # kept between nights (incremental); everything else is rebuilt


def drop_rebuilt(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every mart object that is rebuilt each night, whatever kind it was (an older version of sara
    may have made a table where this one makes a view)."""
    for name, in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' "
                             "AND NOT internal").fetchall():
        con.execute(f"DROP VIEW IF EXISTS marts.{qident(name)}")
    for name, in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall():
        if name not in KEEP:
            con.execute(f"DROP TABLE IF EXISTS marts.{qident(name)}")


def build_all(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
              timings: dict | None = None) -> dict:
    """Every mart, in dependency order. Returns row counts per mart table (and seconds per step in `timings`)."""
    import time

    from transforms.marts import compstat, problems
    from transforms.marts import places as rm

    as_of = as_of or as_of_date(settings)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    drop_rebuilt(con)
    unit_sets = static_units(settings)
    problem_list = [p for p in problems.load_problems(settings) if p.agency in settings.sara.agencies]
    steps = [
        ("dimensions", lambda: build_dimensions(con, settings, as_of, problem_list)),
        ("event_units", lambda: build_event_units(con, settings, unit_sets)),
        ("units", lambda: write_units(con, settings, unit_sets)),
        ("hotspot_counts", lambda: build_hotspot_counts(con)),
        ("hotspots", lambda: build_hotspots(con, settings)),
        ("emerging_hotspots", lambda: build_emerging(con, settings, as_of)),
        ("kde", lambda: build_kde(con, settings, as_of)),
        ("hotspot_accuracy", lambda: build_accuracy(con, settings, as_of)),
        ("repeat_locations", lambda: rm.build_repeat_locations(con, settings, as_of)),
        ("concentration", lambda: rm.build_concentration(con, settings, as_of)),
        ("temporal_profile", lambda: rm.build_temporal_profile(con, settings, as_of)),
        ("near_repeat", lambda: rm.build_near_repeat(con, settings, as_of)),
        ("compstat", lambda: compstat.build_compstat(con, as_of)),
        ("response_times", lambda: compstat.build_response_times(con, bounded=True)),
        ("problems", lambda: problems.build_problem_marts(con, settings, problem_list)),
    ]
    for name, step in steps:
        t = time.perf_counter()
        step()
        if timings is not None:
            timings[name] = round(time.perf_counter() - t, 3)
    return {"as_of": str(as_of), **mart_row_counts(con)}


def mart_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per mart table (DuckDB's estimate), for the run's report."""
    rows = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() WHERE database_name = "
                       "current_database() AND schema_name = 'marts' ORDER BY 1").fetchall()
    return {t: int(n) for t, n in rows}


_NEIGHBORS: dict[tuple, object] = {}


def _neighbors(agency: str, unit_type: str, ids: np.ndarray, geoms: np.ndarray):
    """Neighbour structure of a non-grid unit set (cached per process by its ids)."""
    from transforms.stats import gi_star as gi

    key = (agency, unit_type, hash(tuple(ids)))
    if key not in _NEIGHBORS:
        if unit_type == "h3":
            _NEIGHBORS[key] = gi.h3_kring_neighbors(list(ids))
        elif unit_type == "street":
            _NEIGHBORS[key] = gi.segment_touch_neighbors(geoms)
        else:
            _NEIGHBORS[key] = gi.polygon_queen_neighbors(geoms)
    return _NEIGHBORS[key]


def build_hotspots(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """marts.hotspots: Getis-Ord Gi* per unit on the counts of every dimension combination.

    Every unit of the study area takes part (zero-event units included) and every one is in the output,
    for each combination of dataset, category group, origin and window that has at least one event
    (a combination with no events at all has nothing to test and no rows). Neighbours: grid cells by
    integer offsets (queen, or gi_distance_m), H3 k-ring 1, street segments that touch, polygons by
    queen contiguity; self included everywhere (esda's G_Local star=True, binary weights). p is two-sided;
    p_fdr is Benjamini-Hochberg over the units of one combination; gi_bin as ArcGIS's Gi_Bin on p_fdr.
    """
    import shapely

    from transforms.stats import gi_star as gi

    an = settings.sara.analysis
    offsets = gi.grid_offsets(an.cell_size_m, an.gi_distance_m)
    units = con.execute(
        "SELECT agency, unit_type, unit_id, ix, iy, ST_AsWKB(geom) AS wkb FROM marts.units ORDER BY agency, "
        "unit_type, unit_id").df()
    counts = con.execute("SELECT * FROM marts.hotspot_count_rows").df()
    dims = ["dataset", "category_group", "origin", "window_days"]
    cols: dict[str, list] = {k: [] for k in ("agency", "unit_type", "unit_id", *dims, "n", "z", "p", "p_fdr",
                                             "gi_bin", "n_neighbors")}
    for (agency, unit_type), u in units.groupby(["agency", "unit_type"], sort=True):
        ids = u["unit_id"].to_numpy(dtype=object)
        pos = pd.Series(np.arange(len(ids)), index=ids)
        c = counts[(counts["agency"] == agency) & (counts["unit_type"] == unit_type)]
        if c.empty:
            continue
        nb = None if unit_type == "grid" else _neighbors(agency, unit_type, ids,
                                                           shapely.from_wkb([bytes(b) for b in u["wkb"]]))
        c = c.assign(_pos=pos[c["unit_id"]].to_numpy())
        ix, iy = u["ix"].to_numpy(), u["iy"].to_numpy()
        id_codes = np.arange(len(ids))
        for key, g in c.groupby(dims, sort=True):
            y = np.zeros(len(ids))
            y[g["_pos"].to_numpy()] = g["n"].to_numpy()
            res = gi.gi_star_grid(ix, iy, y, offsets) if nb is None else gi.gi_star_sparse(y, nb)
            p_fdr = gi.fdr_bh(res.p)
            m = len(ids)
            for k, v in (("agency", agency), ("unit_type", unit_type), *zip(dims, key, strict=True)):
                cols[k].append(np.full(m, v, dtype=object if isinstance(v, str) else np.int64))
            cols["unit_id"].append(ids[id_codes])
            cols["n"].append(y.astype(np.int64))
            cols["z"].append(res.z)
            cols["p"].append(res.p)
            cols["p_fdr"].append(p_fdr)
            cols["gi_bin"].append(gi.gi_bin(res.z, p_fdr).astype(np.int8))
            cols["n_neighbors"].append(res.n_neighbors.astype(np.int32))
    table = pa.table({k: pa.array(np.concatenate(v)) if v else pa.array([], pa.string() if k in (
        "agency", "unit_type", "unit_id", "dataset", "category_group", "origin") else pa.float64())
        for k, v in cols.items()})
    for k in ("agency", "unit_type", "unit_id", "dataset", "category_group", "origin"):
        i = table.schema.get_field_index(k)
        table = table.set_column(i, k, pa.compute.dictionary_encode(table.column(k)))
    df = table
    con.register("_hs", df)
    con.execute("CREATE OR REPLACE TABLE marts.hotspot_stats AS SELECT CAST(agency AS VARCHAR) AS agency, "
                "CAST(unit_type AS VARCHAR) AS unit_type, CAST(unit_id AS VARCHAR) AS unit_id, "
                "CAST(dataset AS VARCHAR) AS dataset, CAST(category_group AS VARCHAR) AS category_group, "
                "CAST(origin AS VARCHAR) AS origin, window_days, n, z, p, p_fdr, gi_bin, n_neighbors FROM _hs")
    con.unregister("_hs")
    con.execute(
        """CREATE OR REPLACE VIEW marts.hotspots AS
           SELECT h.*, u.area_m2, u.geom FROM marts.hotspot_stats h
           JOIN marts.units u USING (agency, unit_type, unit_id)"""
    )
    con.execute("COMMENT ON TABLE marts.hotspot_stats IS 'the rows of marts.hotspots without geometry'")
    con.execute(
        "COMMENT ON VIEW marts.hotspots IS 'Getis-Ord Gi* (binary weights, self included; = esda G_Local star) "
        "per unit and dimension combination: n events, z, two-sided p, Benjamini-Hochberg p_fdr, gi_bin "
        "(-3..3 at 99/95/90 % after FDR, as ArcGIS Gi_Bin), n_neighbors (self counted); geometry in the "
        "analysis CRS'")
    return df.num_rows


def _grid_events(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Located events on local dates start..end with their grid cell, one row per origin dimension and
    category group they belong to."""
    return con.execute(
        """WITH ev AS (
             SELECT e.agency, e.dataset, e.category, e.origin, e.local_date, e.x, e.y, eu.unit_id
             FROM marts.events e JOIN marts.event_units eu USING (dataset, source, event_id)
             WHERE e.is_located AND eu.unit_type = 'grid' AND eu.unit_id IS NOT NULL
               AND e.local_date BETWEEN ? AND ?)
           SELECT ev.agency, ev.dataset, g.category_group, o.origin_dim AS origin, ev.local_date, ev.x, ev.y,
                  ev.unit_id
           FROM ev JOIN marts.category_groups g
             ON g.dataset = ev.dataset AND (g.category = '*' OR g.category = ev.category)
           , (SELECT unnest(['all', 'community', 'officer', 'unknown']) AS origin_dim) o
           WHERE o.origin_dim = 'all' OR o.origin_dim = ev.origin""",
        [start, end]).df()


def _grid_cells(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT agency, unit_id, ix, iy, area_m2 FROM marts.units WHERE unit_type = 'grid' "
        "ORDER BY agency, unit_id").df()


def _cell_centres(cells: pd.DataFrame, settings: Settings, agency: str) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the full (unclipped) squares: origin + (i + 0.5) * cell size."""
    cs = settings.sara.analysis.cell_size_m
    origin = static_units(settings)[agency]["grid"].origin
    return (origin[0] + (cells["ix"].to_numpy() + 0.5) * cs, origin[1] + (cells["iy"].to_numpy() + 0.5) * cs)


def write_mart(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame, comment: str,
               types: dict[str, str] | None = None) -> None:
    """marts.<name> from a DataFrame, its columns cast to `types` when given, with its comment."""
    con.register("_mart_df", pa.Table.from_pandas(df, preserve_index=False))
    cols = ", ".join(f"CAST({qident(c)} AS {t}) AS {qident(c)}" for c, t in types.items()) if types else "*"
    try:
        con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT {cols} FROM _mart_df")
    finally:
        con.unregister("_mart_df")
    con.execute(f"COMMENT ON TABLE marts.{name} IS {qstr(comment)}")


def _write_with_geometry(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, table: str, view: str,
                         comment: str, unit_type: str = "grid") -> None:
    write_mart(con, table, df, "the rows of marts." + view + " without geometry")
    con.execute(
        f"""CREATE OR REPLACE VIEW marts.{view} AS
            SELECT t.*, u.geom FROM marts.{table} t
            JOIN marts.units u ON u.agency = t.agency AND u.unit_type = {qstr(unit_type)} AND u.unit_id = t.unit_id""")
    con.execute(f"COMMENT ON VIEW marts.{view} IS {qstr(comment)}")


def build_emerging(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """marts.emerging_hotspots: Esri Emerging Hot Spot Analysis on grid cells x time steps ending at as_of."""
    from transforms.stats import ehsa
    from transforms.stats import gi_star as gi

    an = settings.sara.analysis
    T = an.ehsa_steps
    start = ehsa_first_day(settings, as_of)
    ev = _grid_events(con, start, as_of)
    if an.ehsa_step == "week":
        ev["step"] = (T - 1) - ((pd.Timestamp(as_of) - pd.to_datetime(ev["local_date"])).dt.days // 7)
    else:
        d = pd.to_datetime(ev["local_date"])
        ev["step"] = (T - 1) - ((as_of.year - d.dt.year) * 12 + (as_of.month - d.dt.month))
    cells = _grid_cells(con)
    offsets = [tuple(o) for o in gi.grid_offsets(an.cell_size_m, an.gi_distance_m)]
    out = []
    for agency, c in cells.groupby("agency"):
        pos = pd.Series(np.arange(len(c)), index=c["unit_id"].to_numpy())
        e = ev[ev["agency"] == agency]
        for (dataset, group, origin), g in e.groupby(["dataset", "category_group", "origin"], sort=True):
            cube = np.zeros((len(c), T))
            agg = g.groupby(["unit_id", "step"]).size()
            cube[pos[agg.index.get_level_values(0)].to_numpy(), agg.index.get_level_values(1).to_numpy()] = agg.values
            res = ehsa.emerging_hot_spots(c["ix"].to_numpy(), c["iy"].to_numpy(), cube, offsets=offsets,
                                          k_time=an.ehsa_k, alpha=an.ehsa_alpha)
            cdf = res.cells.to_pandas()
            cdf.insert(0, "unit_id", c["unit_id"].to_numpy())
            cdf.insert(0, "origin", origin)
            cdf.insert(0, "category_group", group)
            cdf.insert(0, "dataset", dataset)
            cdf.insert(0, "agency", agency)
            cdf["status"], cdf["message"], cdf["n_steps"], cdf["step"] = res.status, res.message, T, an.ehsa_step
            cdf["first_day"], cdf["as_of"] = start, as_of
            out.append(cdf.drop(columns=["ix", "iy"]))
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame({
        "agency": pd.Series(dtype=str), "dataset": pd.Series(dtype=str), "category_group": pd.Series(dtype=str),
        "origin": pd.Series(dtype=str), "unit_id": pd.Series(dtype=str), "pattern": pd.Series(dtype=str),
        "n_hot": pd.Series(dtype="int32"), "n_cold": pd.Series(dtype="int32"), "final_z": pd.Series(dtype=float),
        "trend_z": pd.Series(dtype=float), "trend_p": pd.Series(dtype=float), "trend": pd.Series(dtype=str),
        "status": pd.Series(dtype=str), "message": pd.Series(dtype=str)})
    _write_with_geometry(
        con, df, "emerging_hotspot_rows", "emerging_hotspots",
        "Emerging Hot Spot Analysis (Esri definitions) per grid cell: space-time Gi* over a cube of "
        "ehsa_steps steps ending at as_of (one global mean and variance, neighbours in the same and the k "
        "previous steps, FDR over the cube), Mann-Kendall trend on each cell's z series, one of the 17 "
        "patterns; status says when there are too few steps (at least 10) to classify")
    return len(df)


def build_kde(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """marts.kde: quartic kernel density (events per km²) at grid cell centres, per window and dimension."""
    from transforms.stats.kde import quartic_kde

    an = settings.sara.analysis
    cells = _grid_cells(con)
    out = []
    for w in an.kde_windows_days:
        ev = _grid_events(con, as_of - timedelta(days=w - 1), as_of)
        for agency, c in cells.groupby("agency"):
            cx, cy = _cell_centres(c, settings, agency)
            for (dataset, group, origin), g in ev[ev["agency"] == agency].groupby(
                    ["dataset", "category_group", "origin"], sort=True):
                dens = quartic_kde(g["x"].to_numpy(), g["y"].to_numpy(), cx, cy, an.kde_bandwidth_m, unit="km2")
                out.append(pd.DataFrame({"agency": agency, "unit_id": c["unit_id"].to_numpy(), "dataset": dataset,
                                         "category_group": group, "origin": origin, "window_days": w,
                                         "bandwidth_m": an.kde_bandwidth_m, "events": len(g),
                                         "density_km2": dens}))
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame({
        "agency": pd.Series(dtype=str), "unit_id": pd.Series(dtype=str), "dataset": pd.Series(dtype=str),
        "category_group": pd.Series(dtype=str), "origin": pd.Series(dtype=str), "window_days": pd.Series(dtype=int),
        "bandwidth_m": pd.Series(dtype=float), "events": pd.Series(dtype=int), "density_km2": pd.Series(dtype=float)})
    _write_with_geometry(
        con, df, "kde_rows", "kde",
        "quartic (biweight) kernel density, events per km², at grid cell centres, computed in the analysis CRS "
        "(metres) with bandwidth_m, per dataset, category group, origin and window ending at as_of")
    return len(df)


def build_accuracy(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """marts.hotspot_accuracy: how well last period's top cells (by Gi* z and by KDE) caught this period's
    events: hit rate, PAI (Chainey et al. 2008) and PEI at 1, 5 and 10 % of the area."""
    from transforms.stats import gi_star as gi
    from transforms.stats.accuracy import prediction_accuracy
    from transforms.stats.kde import quartic_kde

    an = settings.sara.analysis
    L = an.prediction_period_days
    this_start, last_end = as_of - timedelta(days=L - 1), as_of - timedelta(days=L)
    last_start = last_end - timedelta(days=L - 1)
    ev = _grid_events(con, last_start, as_of)
    ev["period"] = np.where(pd.to_datetime(ev["local_date"]) >= pd.Timestamp(this_start), "this", "last")
    cells = _grid_cells(con)
    offsets = gi.grid_offsets(an.cell_size_m, an.gi_distance_m)
    out = []
    for agency, c in cells.groupby("agency"):
        pos = pd.Series(np.arange(len(c)), index=c["unit_id"].to_numpy())
        cx, cy = _cell_centres(c, settings, agency)
        for (dataset, group, origin), g in ev[ev["agency"] == agency].groupby(
                ["dataset", "category_group", "origin"], sort=True):
            last, this = g[g["period"] == "last"], g[g["period"] == "this"]
            if last.empty or this.empty:
                continue
            y_last = np.bincount(pos[last["unit_id"]].to_numpy(), minlength=len(c)).astype(float)
            y_this = np.bincount(pos[this["unit_id"]].to_numpy(), minlength=len(c)).astype(float)
            scores = {
                "gi_star": gi.gi_star_grid(c["ix"].to_numpy(), c["iy"].to_numpy(), y_last, offsets).z,
                "kde": quartic_kde(last["x"].to_numpy(), last["y"].to_numpy(), cx, cy, an.kde_bandwidth_m),
            }
            for method, sc in scores.items():
                acc = prediction_accuracy(sc, y_this, c["area_m2"].to_numpy(), cell_id=np.arange(len(c))).to_pandas()
                acc.insert(0, "method", method)
                for k, v in (("origin", origin), ("category_group", group), ("dataset", dataset), ("agency", agency)):
                    acc.insert(0, k, v)
                acc["last_period"] = f"{last_start}..{last_end}"
                acc["this_period"] = f"{this_start}..{as_of}"
                out.append(acc)
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        {c: pd.Series(dtype=float) for c in ("coverage", "hit_rate", "pai", "pei")}).assign(
        agency="", dataset="", category_group="", origin="", method="").iloc[:0]
    write_mart(con, "hotspot_accuracy", df,
               "prediction accuracy of last period's top grid cells (by Gi* z and by KDE) for this period's events: "
               "hit rate, PAI = (n/N)/(a/A) (Chainey et al. 2008), PEI = PAI / best possible PAI, at 1, 5 and 10 % "
               "area coverage; periods of prediction_period_days ending at as_of")
    return len(df)
