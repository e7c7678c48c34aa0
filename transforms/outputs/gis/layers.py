"""What goes into each GIS layer: one layer per product, unit type, dataset and agency, for one slice.

A slice (transforms/outputs/slice.py) is one window x category group x origin. Each layer holds one row per
unit (or place, or event, or area) and one geometry type:

| layer | geometry | rows |
|---|---|---|
| `hotspots_<unit>_<dataset>_<agency>` | polygon (grid, h3, beat, district ...), line (street) | every unit of the type (+ officer_share) |
| `emerging_hotspots_<dataset>_<agency>` | polygon (grid cells) | every classified cell (the whole EHSA cube) |
| `kde_<dataset>_<agency>` | polygon (grid cells) | every cell |
| `repeat_locations_<dataset>_<agency>` | point | every located place with an event in the slice (+ geocode method, precision) |
| `near_repeats_<group>_<dataset>_<agency>` | point | every event of the Knox group (its label, chain, geocode method, precision) |
| `problem_areas_<agency>` | polygon | target, buffer and control of each tracked problem |
| `demand_district_<agency>` | polygon (district) | every district: calls, community calls, alternative share, top nature, unit-hours |

Every hot-spot layer (and the `--all` hotspots tables) carries `officer_share`: the unit's officer-initiated share
of its own events in the slice's window, dataset and category group, whatever origin the layer shows (null for a
unit without events, or without the community/officer split).

A dataset that does not record the slice's origin (incidents have no community/officer split) shows origin
`all`, as the report does; a group a dataset lacks gives no layer. Near repeats exist only for the Knox groups
(`knox_groups`): the slice's group when it is one of them, else every Knox group. Each case is a note the
export prints and writes into its README.

`--all` (cube_layers): each mart as a table without geometry (`<mart>_<unit>_<agency>`) beside one geometry
layer per unit type (`units_<unit>_<agency>`); join them on `unit_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import geopandas as gpd
import pandas as pd
import shapely

from transforms.outputs.gis import styles as st
from transforms.outputs.slice import Slice, nearest_window
from transforms.warehouse import natures
from transforms.warehouse.sqlutil import qident

ESRI_FIELDS = {"GiZScore": "z", "GiPValue": "p", "Gi_Bin": "gi_bin", "NNeighbors": "n_neighbors"}
DATASET_WORDS = {"calls": "calls for service", "incidents": "recorded crimes"}


@dataclass
class Layer:
    stem: str                      # the name without the agency: hotspots_grid_calls
    agency: str
    title: str                     # what it is, in words (GeoPackage identifier, README)
    frame: pd.DataFrame            # a GeoDataFrame for a geometry layer, a DataFrame for a table
    style: st.Style | None = None
    join: str = ""                 # for a table: how it joins its geometry layer
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.stem}_{self.agency}"

    @property
    def spatial(self) -> bool:
        return isinstance(self.frame, gpd.GeoDataFrame)

    @property
    def geometry_type(self) -> str | None:
        if not self.spatial:
            return None
        types = set(self.frame.geometry.dropna().geom_type)
        return types.pop() if len(types) == 1 else None


def layer_token(text: str) -> str:
    """A name part every format takes (FileGDB and Shapefile are the strictest): lowercase letters, digits, _."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "x"


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list, crs: str | None) -> pd.DataFrame:
    """The query's rows; with `crs`, a GeoDataFrame from its `_wkb` column (rows without geometry dropped),
    with one geometry type (single parts promoted to multi when both occur) and field types every driver takes."""
    df = con.execute(sql, params).df()
    if crs is not None:
        wkb = df.pop("_wkb")
        keep = wkb.notna().to_numpy()
        df = df[keep].reset_index(drop=True)
        geom = shapely.from_wkb([bytes(b) for b in wkb[keep]]) if keep.any() else []
        df = gpd.GeoDataFrame(df, geometry=list(_one_type(geom)), crs=crs)
    return _plain_types(df)


def _one_type(geom):
    """Polygon beside MultiPolygon (or LineString beside MultiLineString ...) become all multi."""
    geom = list(geom)
    types = {g.geom_type for g in geom if g is not None and not g.is_empty}
    multi = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString, "Point": shapely.MultiPoint}
    for single, make in multi.items():
        if single in types and f"Multi{single}" in types:
            return [make([g]) if g is not None and g.geom_type == single else g for g in geom]
    return geom


def _plain_types(g: pd.DataFrame) -> pd.DataFrame:
    for c in g.columns:  # plain types every driver takes (FileGDB has no 64-bit integers before ArcGIS Pro 3.2)
        dtype = str(g[c].dtype)
        # an all-null column (a mart whose statistics were not computed) has no maximum
        if dtype in ("int64", "Int64") and (g[c].isna().all() or g[c].abs().max() < 2**31):
            g[c] = g[c].astype("int32" if dtype == "int64" else "Int32")
        if dtype.startswith("datetime64") and getattr(g[c].dt, "tz", None) is not None:
            g[c] = g[c].dt.tz_convert("UTC")
        if g[c].dtype == object and c != "geometry" and len(g) and not isinstance(g[c].iloc[0], str | type(None)):
            g[c] = g[c].astype(str)
    return g


def _esri(g: pd.DataFrame) -> pd.DataFrame:
    for esri, ours in ESRI_FIELDS.items():
        g[esri] = g[ours]
    # NOTE: GIS formats compare field names without case, so gi_bin and Gi_Bin cannot both exist:
    # the layer keeps the ArcGIS spelling (same values)
    return g.drop(columns=["gi_bin"])


# each unit's officer-initiated share of its own events, per dataset x category group x window (whatever the
# origin a layer shows): officer / all of marts.hotspot_count_rows; null for a unit without events, or whose
# events have no known origin (a dataset without the community/officer split, such as incidents)
OFFICER_SHARE = """
    SELECT agency, unit_type, unit_id, dataset, category_group, window_days,
           coalesce(sum(n) FILTER (WHERE origin = 'officer'), 0) / sum(n) FILTER (WHERE origin = 'all')
               AS officer_share
    FROM marts.hotspot_count_rows
    GROUP BY ALL
    HAVING sum(n) FILTER (WHERE origin IN ('officer', 'community')) > 0"""


def _hotspot_sql(where: str, columns: str = "h.* EXCLUDE (geom), o.officer_share, ST_AsWKB(h.geom) AS _wkb",
                 order: str = "h.unit_id") -> str:
    """marts.hotspots rows with each unit's officer_share (OFFICER_SHARE), filtered by `where` (on h.)."""
    return (f"SELECT {columns} FROM marts.hotspots h LEFT JOIN ({OFFICER_SHARE}) o "
            "USING (agency, unit_type, unit_id, dataset, category_group, window_days) "
            f"WHERE {where} ORDER BY {order}")


def _distinct(con, sql: str, params: list) -> list:
    return [r[0] for r in con.execute(sql, params).fetchall()]


def _origin_for(con, mart: str, agency: str, dataset: str, group: str, want: str) -> str | None:
    """`want`, or 'all' when the dataset records no such origin at all (incidents: all and unknown); None when
    the mart has no rows of the group and origin (no layer)."""
    recorded = _distinct(con, f"SELECT DISTINCT origin FROM marts.{qident(mart)} WHERE agency = ? AND dataset = ?",
                         [agency, dataset])
    origin = want if want in recorded else "all"
    rows = con.execute(f"SELECT count(*) FROM marts.{qident(mart)} WHERE agency = ? AND dataset = ? "
                       "AND category_group = ? AND origin = ?", [agency, dataset, group, origin]).fetchone()[0]
    return origin if rows else None


def check_slice(con: duckdb.DuckDBPyConnection, sl: Slice) -> None:
    """A ValueError naming the choices when the marts hold no such window or category group."""
    windows = sorted(_distinct(con, "SELECT DISTINCT window_days FROM marts.hotspots", []))
    groups = sorted(_distinct(con, "SELECT DISTINCT category_group FROM marts.hotspots", []))
    if windows and sl.window_days not in windows:
        raise ValueError(f"no {sl.window_days}-day window in the marts; the windows are "
                         f"{', '.join(map(str, windows))} (windows_days in the config)")
    if groups and sl.category_group not in groups:
        raise ValueError(f"no category group {sl.category_group!r} in the marts; the groups are {', '.join(groups)}")
    if sl.origin not in ("all", "community", "officer", "unknown"):
        raise ValueError(f"unknown origin {sl.origin!r}; use all, community, officer or unknown")


def slice_layers(con: duckdb.DuckDBPyConnection, agencies: dict[str, str], sl: Slice) -> tuple[list[Layer], list[str]]:
    """Every layer of the slice, per agency (`agencies`: code -> analysis CRS), and the notes on what is not there."""
    check_slice(con, sl)
    layers: list[Layer] = []
    notes: list[str] = []
    for agency, crs in agencies.items():
        datasets = _distinct(con, "SELECT DISTINCT dataset FROM marts.hotspots WHERE agency = ? ORDER BY 1", [agency])
        units = _distinct(con, "SELECT DISTINCT unit_type FROM marts.units WHERE agency = ? ORDER BY 1", [agency])
        for ds in datasets:
            origin = _origin_for(con, "hotspots", agency, ds, sl.category_group, sl.origin)
            if origin is None:
                notes.append(f"{agency}: no {ds} in the marts for {sl.category_group!r} and origin {sl.origin!r}: "
                             f"no {ds} layers")
                continue
            if origin != sl.origin:
                notes.append(f"{agency}: {ds} record no {sl.origin!r} origin: their layers show origin 'all'")
            words = Slice(sl.window_days, sl.category_group, origin).words(ds)
            dims = [agency, ds, sl.category_group, origin]
            for unit in units:
                g = _frame(con, _hotspot_sql("h.agency = ? AND h.dataset = ? AND h.category_group = ? "
                                             "AND h.origin = ? AND h.window_days = ? AND h.unit_type = ?"),
                           [*dims, sl.window_days, unit], crs)
                layers.append(Layer(f"hotspots_{layer_token(unit)}_{ds}", agency,
                                    f"Hot spots (Gi*) by {unit}, {words}", _esri(g), st.gi_bin_style()))
            g = _frame(con, "SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS _wkb FROM marts.kde WHERE agency = ? "
                       "AND dataset = ? AND category_group = ? AND origin = ? AND window_days = ? ORDER BY unit_id",
                       [*dims, sl.window_days], crs)
            layers.append(Layer(f"kde_{ds}", agency, f"Kernel density by grid cell, {words}", g,
                                st.kde_style(g["density_km2"])))
            layers += _emerging(con, agency, ds, sl, crs, notes)
            layers += _repeats(con, agency, ds, sl, crs, notes)
            layers += _near_repeats(con, agency, ds, sl, crs, notes)
        layers += _problems(con, agency, crs, notes)
        layers += _demand(con, agency, sl, crs, notes)
    return [x for x in layers if _keep(x, notes)], notes


def _keep(layer: Layer, notes: list[str]) -> bool:
    if len(layer.frame):
        return True
    notes.append(f"{layer.name}: no rows, not written ({layer.title})")
    return False


def _words(ds: str, sl: Slice, origin: str) -> str:
    """The slice in words without its window (marts that have none, or one column per window)."""
    return Slice(sl.window_days, sl.category_group, origin).words(ds).rsplit(", last ", 1)[0]


def _emerging(con, agency, ds, sl: Slice, crs, notes) -> list[Layer]:
    origin = _origin_for(con, "emerging_hotspots", agency, ds, sl.category_group, sl.origin)
    if origin is None:
        notes.append(f"emerging_hotspots_{ds}_{agency}: no emerging hot spots for this slice (see marts.mart_status)")
        return []
    g = _frame(con, "SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS _wkb FROM marts.emerging_hotspots WHERE agency = ? "
               "AND dataset = ? AND category_group = ? AND origin = ? ORDER BY unit_id",
               [agency, ds, sl.category_group, origin], crs)
    return [Layer(f"emerging_hotspots_{ds}", agency, f"Emerging hot spots by grid cell, {_words(ds, sl, origin)} "
                  "(the whole EHSA cube)", g,
                  st.categories_style("pattern", st.EHSA_COLOURS, "Emerging hot spot patterns"))]


def _repeats(con, agency, ds, sl: Slice, crs, notes) -> list[Layer]:
    origin = _origin_for(con, "repeat_locations", agency, ds, sl.category_group, sl.origin)
    if origin is None:
        return []
    params = [agency, ds, sl.category_group, origin]
    where = "agency = ? AND dataset = ? AND category_group = ? AND origin = ?"
    unlocated = con.execute(f"SELECT count(*) FROM marts.repeat_locations WHERE {where} AND geom IS NULL",
                            params).fetchone()[0]
    # how the place's points were found: the commonest geocode method of its located events (feed: the feed's own
    # point) and the worst precision among them (metres; null: every point is the feed's own, taken as exact)
    g = _frame(con, """SELECT r.* EXCLUDE (geom), m.geocode_method, m.geocode_precision_m, ST_AsWKB(r.geom) AS _wkb
                        FROM marts.repeat_locations r
                        LEFT JOIN (SELECT agency, dataset, location_key,
                                          mode(coalesce(geocode_method, 'feed') ORDER BY coalesce(geocode_method, 'feed'))
                                            AS geocode_method,
                                          max(geocode_precision_m) AS geocode_precision_m
                                   FROM marts.events WHERE is_located GROUP BY ALL) m
                          USING (agency, dataset, location_key)
                        WHERE r.agency = ? AND r.dataset = ? AND r.category_group = ? AND r.origin = ?
                        ORDER BY r.rank, r.location_key""", params, crs)
    if unlocated:
        notes.append(f"repeat_locations_{ds}_{agency}: {unlocated} place(s) without a located event have no point "
                     "and are left out (they are in marts.repeat_locations)")
    top = float(g["n_repeat_window"].max()) if len(g) else 25.0
    return [Layer(f"repeat_locations_{ds}", agency, f"Repeat locations, {_words(ds, sl, origin)} (counts per window)", g, st.repeat_style("n_repeat_window", top))]


def _near_repeats(con, agency, ds, sl: Slice, crs, notes) -> list[Layer]:
    groups = _distinct(con, "SELECT DISTINCT category_group FROM marts.near_repeat_events WHERE agency = ? "
                            "AND dataset = ? ORDER BY 1", [agency, ds])
    if sl.category_group in groups:
        groups = [sl.category_group]
    out = []
    for group in groups:
        params = [agency, ds, group]
        g = _frame(con, """SELECT n.*, e.event_at, e.local_date, e.category, e.event_type, e.address_block,
                                  e.geocode_method, e.geocode_precision_m, e.location_issue,
                                  CASE WHEN e.x IS NOT NULL THEN ST_AsWKB(ST_Point(e.x, e.y)) END AS _wkb
                           FROM marts.near_repeat_events n
                           LEFT JOIN marts.events e USING (agency, dataset, source, event_id)
                           WHERE n.agency = ? AND n.dataset = ? AND n.category_group = ?
                           ORDER BY n.chain_id, e.event_at, n.event_id""", params, crs)
        total = con.execute("SELECT count(*) FROM marts.near_repeat_events WHERE agency = ? AND dataset = ? "
                            "AND category_group = ?", params).fetchone()[0]
        if total != len(g):
            notes.append(f"near_repeats_{layer_token(group)}_{ds}_{agency}: {total - len(g)} event(s) without a "
                         "located point left out")
        out.append(Layer(f"near_repeats_{layer_token(group)}_{ds}", agency,
                         f"Near-repeat events (Knox group {group}), {DATASET_WORDS.get(ds, ds)}: label and chain", g,
                         st.categories_style("label", st.NEAR_REPEAT_COLOURS, "Near-repeat labels")))
    return out


def _problems(con, agency, crs, notes) -> list[Layer]:
    orphans = con.execute("SELECT count(*) FROM marts.problem_areas a ANTI JOIN marts.problem_assessment p "
                          "USING (problem)").fetchone()[0]
    if orphans:
        notes.append(f"{orphans} problem area row(s) have no assessment (no agency): not exported")
    g = _frame(con, """SELECT a.problem, a.area, a.area_m2, p.agency, p.dataset, p.origin, p.pre_start, p.pre_end,
                              p.post_start, p.post_end,
                              CASE a.area WHEN 'target' THEN p.target_pre WHEN 'buffer' THEN p.buffer_pre
                                          ELSE p.control_pre END AS n_pre,
                              CASE a.area WHEN 'target' THEN p.target_post WHEN 'buffer' THEN p.buffer_post
                                          ELSE p.control_post END AS n_post,
                              p.wdd, p.wdd_p, p.sentence, ST_AsWKB(a.geom) AS _wkb
                       FROM marts.problem_areas a JOIN marts.problem_assessment p USING (problem)
                       WHERE p.agency = ? ORDER BY a.problem, list_position(['target', 'buffer', 'control'], a.area)""",
               [agency], crs)
    if not len(g):
        return []
    return [Layer("problem_areas", agency, "Tracked problems: target, buffer and control areas, pre/post counts", g,
                  st.categories_style("area", st.PROBLEM_AREA_COLOURS, "Problem areas"))]


def _demand(con, agency, sl: Slice, crs, notes) -> list[Layer]:
    """Demand per district polygon over the window of marts.demand nearest to the slice's (every origin and
    category: the slice's group and origin do not apply): calls, community calls, how many of them an
    alternative responder could take and that share, the commonest nature, and unit-hours (marts.workload)."""
    marts = set(_distinct(con, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'", []))
    if "demand" not in marts:
        return []
    windows = _distinct(con, "SELECT DISTINCT window_days FROM marts.demand WHERE agency = ?", [agency])
    if not windows:
        return []
    if not _distinct(con, "SELECT 1 FROM marts.units WHERE agency = ? AND unit_type = 'district' LIMIT 1", [agency]):
        notes.append(f"demand_district_{agency}: the agency has no district layer (unit_layers.district): no demand "
                     "layer")
        return []
    w = nearest_window([int(x) for x in windows], sl.window_days)
    work = "workload" in marts and bool(_distinct(
        con, "SELECT 1 FROM marts.workload WHERE agency = ? AND window_days = ? LIMIT 1", [agency, w]))
    try:
        labels = natures.taxonomy().select("code", "label").rows()
    except (OSError, ValueError) as exc:  # the layer keeps the codes; top_label repeats them
        labels = []
        notes.append(f"demand_district_{agency}: the call-nature taxonomy could not be read ({exc}): top_label "
                     "repeats the code")
    wl = ("SELECT district, sum(unit_hours) AS unit_hours FROM marts.workload WHERE agency = ? AND window_days = ? "
          "GROUP BY 1") if work else "SELECT CAST(NULL AS VARCHAR) AS district, CAST(NULL AS DOUBLE) AS unit_hours"
    g = _frame(con, f"""
        WITH d AS (SELECT district, call_nature, origin, response_model, n_calls, start_date, end_date
                   FROM marts.demand WHERE agency = ? AND window_days = ?),
        per AS (SELECT district, sum(n_calls) AS n_calls,
                       coalesce(sum(n_calls) FILTER (WHERE origin = 'community'), 0) AS n_community,
                       coalesce(sum(n_calls) FILTER (WHERE origin = 'community' AND response_model = 'alternative'),
                                0) AS n_alternative
                FROM d GROUP BY 1),
        nat AS (SELECT district, call_nature, sum(n_calls) AS n FROM d GROUP BY ALL),
        top AS (SELECT district, call_nature AS top_nature, n AS top_calls FROM nat
                QUALIFY row_number() OVER (PARTITION BY district ORDER BY n DESC, call_nature) = 1),
        wl AS ({wl}),
        labels AS (SELECT * FROM (VALUES {", ".join(["(?, ?)"] * len(labels)) or "(NULL, NULL)"}) t(code, label))
        SELECT u.agency, u.unit_type, u.unit_id, CAST(? AS INTEGER) AS window_days,
               (SELECT min(start_date) FROM d) AS start_date, (SELECT max(end_date) FROM d) AS end_date,
               CAST(coalesce(per.n_calls, 0) AS BIGINT) AS n_calls,
               CAST(coalesce(per.n_community, 0) AS BIGINT) AS n_community,
               CAST(coalesce(per.n_alternative, 0) AS BIGINT) AS n_alternative,
               round(per.n_alternative / nullif(per.n_community, 0), 4) AS alt_share,
               top.top_nature, coalesce(labels.label, top.top_nature) AS top_label,
               CAST(top.top_calls AS BIGINT) AS top_calls,
               CASE WHEN ? THEN round(coalesce(wl.unit_hours, 0), 3) END AS unit_hours,
               ST_AsWKB(u.geom) AS _wkb
        FROM marts.units u
        LEFT JOIN per ON per.district = u.unit_id
        LEFT JOIN top ON top.district = u.unit_id
        LEFT JOIN wl ON wl.district = u.unit_id
        LEFT JOIN labels ON labels.code = top.top_nature
        WHERE u.agency = ? AND u.unit_type = 'district'
        ORDER BY u.unit_id""", [agency, w, *([agency, w] if work else []), *[v for pair in labels for v in pair], w,
                                work, agency], crs)
    off = con.execute("SELECT coalesce(sum(n_calls), 0) FROM marts.demand d WHERE agency = ? AND window_days = ? "
                      "AND district NOT IN (SELECT unit_id FROM marts.units WHERE agency = ? AND unit_type = 'district')",
                      [agency, w, agency]).fetchone()[0]
    if off:
        notes.append(f"demand_district_{agency}: {off:,} call(s) of the {w}-day window have no district polygon "
                     "((unassigned) or a district the layer does not have): not on the layer (they are in marts.demand)")
    if not work:
        notes.append(f"demand_district_{agency}: no marts.workload rows for the {w}-day window: unit_hours is empty")
    return [Layer("demand_district", agency, f"Demand by district, calls for service, every origin, last {w} days: "
                  "calls, community calls and the share an alternative responder could take, top nature, unit-hours",
                  g, st.demand_style(g["n_calls"]))]


CUBE_MARTS = ("hotspots", "hotspot_counts", "kde", "emerging_hotspots")


def cube_layers(con: duckdb.DuckDBPyConnection, agencies: dict[str, str]) -> tuple[list[Layer], list[str]]:
    """The whole cube: per agency, each mart of CUBE_MARTS per unit type as a table without geometry, the
    repeat locations as a table (x, y in the analysis CRS), one geometry layer per unit type, and the
    near-repeat and problem layers as in a slice."""
    layers: list[Layer] = []
    notes: list[str] = []
    for agency, crs in agencies.items():
        units = _distinct(con, "SELECT DISTINCT unit_type FROM marts.units WHERE agency = ? ORDER BY 1", [agency])
        for unit in units:
            g = _frame(con, "SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS _wkb FROM marts.units WHERE agency = ? "
                       "AND unit_type = ? ORDER BY unit_id", [agency, unit], crs)
            layers.append(Layer(f"units_{layer_token(unit)}", agency, f"Spatial units: {unit}", g, st.Style("single")))
        for mart in CUBE_MARTS:
            cols = _distinct(con, "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
                                  "AND table_name = ? AND column_name <> 'geom'", [mart])
            per_unit = "unit_type" in cols
            for unit in units if per_unit else ["grid"]:
                where = "agency = ?" + (" AND unit_type = ?" if per_unit else "")
                if mart == "hotspots":  # with each unit's officer share, as the slice layers
                    df = _esri(_frame(con, _hotspot_sql(
                        "h.agency = ? AND h.unit_type = ?",
                        ", ".join([*(f"h.{qident(c)}" for c in cols), "o.officer_share"]), "ALL"),
                        [agency, unit], None))
                else:
                    df = _frame(con, f"SELECT {', '.join(qident(c) for c in cols)} FROM marts.{qident(mart)} "
                                f"WHERE {where} ORDER BY ALL", [agency, unit] if per_unit else [agency], None)
                layers.append(Layer(f"{mart}_{layer_token(unit)}", agency,
                                    f"{mart}, every window, category group and origin, by {unit} (table)", df,
                                    join=f"unit_id = units_{layer_token(unit)}_{agency}.unit_id"))
        df = _frame(con, "SELECT * EXCLUDE (geom) FROM marts.repeat_locations WHERE agency = ? ORDER BY ALL",
                    [agency], None)
        layers.append(Layer("repeat_locations", agency, "Repeat locations, every dataset, group and origin (table)",
                            df, join="none: x, y are the place's point in the analysis CRS, lon, lat in EPSG:4326"))
        for ds in _distinct(con, "SELECT DISTINCT dataset FROM marts.near_repeat_events WHERE agency = ? ORDER BY 1",
                            [agency]):
            layers += _near_repeats(con, agency, ds, Slice(0, "", "all"), crs, notes)
        layers += _problems(con, agency, crs, notes)
    return [x for x in layers if _keep(x, notes)], notes
