"""A tiny project for the scanning report, and every mart the report reads, small but complete."""

from __future__ import annotations

METRO = {"timezone": "America/Los_Angeles", "crs": "EPSG:32610", "bbox": [-123.0, 45.0, -122.9, 45.1]}
REPORT_TOML = {  # keywords of tiny_project: agency `metro`, a name to escape, the warehouse elsewhere
    "sources": [], "agency": "metro", "name": "Metro & <Test> PD", "city": METRO, "top": 'profile = "tiny"',
    "extra": '[warehouse]\npath = "wh/sara.duckdb"\nlanding_dir = "data/landing"\n[time]\nas_of = "2026-11-20"',
}


def report_warehouse(tiny_project):
    """(settings, connection) of an empty warehouse with the schema, for agency `metro`."""
    p = tiny_project(**REPORT_TOML)
    settings = p.settings
    settings.warehouse_path.parent.mkdir(parents=True)
    return settings, p.connect(settings.warehouse_path)


def render_synthetic(tiny_project, tmp_path, change=None) -> str:
    """The report's HTML on the synthetic marts (fill_synthetic), after `change(con)` when given, as of
    2026-11-20."""
    from datetime import date

    from transforms.outputs.report import build_report

    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        if change:
            change(con)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    return index.read_text(encoding="utf-8")


def section_html(text: str, sid: str) -> str:
    """The inside of the page's <section id=sid>."""
    return text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]


def fill_synthetic(con) -> None:
    """Every mart the report reads, small but complete, for agency 'metro' (a 12 x 12 grid of 100 m cells)."""
    import pandas as pd

    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    cells = [(ix, iy) for ix in range(12) for iy in range(12)]
    hs = pd.DataFrame([
        {"agency": "metro", "unit_type": "grid", "unit_id": f"g{ix}_{iy}", "dataset": "calls",
         "category_group": "all", "origin": o, "window_days": 28, "n": ix + iy, "z": (ix + iy - 11) / 3,
         "gi_bin": max(-3, min(3, round((ix + iy - 11) / 3))),
         "wkt": f"POLYGON(({ix * 100} {iy * 100},{ix * 100 + 100} {iy * 100},{ix * 100 + 100} {iy * 100 + 100},"
                f"{ix * 100} {iy * 100 + 100},{ix * 100} {iy * 100}))"}
        for ix, iy in cells for o in ("all", "community")])
    con.register("hs_df", hs)
    con.execute("CREATE TABLE marts.hotspots AS SELECT * EXCLUDE (wkt), ST_GeomFromText(wkt) AS geom FROM hs_df")
    con.execute("CREATE TABLE marts.hotspot_stats AS SELECT * EXCLUDE (geom) FROM marts.hotspots")
    con.execute("""CREATE TABLE marts.hotspot_count_rows AS
                   SELECT agency, unit_type, unit_id, dataset, category_group, o.origin, window_days,
                          CASE o.origin WHEN 'officer' THEN 3 * n ELSE n END AS n
                   FROM marts.hotspots, (VALUES ('community'), ('officer'), ('unknown')) o(origin)
                   WHERE hotspots.origin = 'all'""")
    con.execute("DELETE FROM meta.agency_areas")
    con.execute("INSERT INTO meta.agency_areas (agency, name, crs, geom) VALUES ('metro', 'Metro', 'EPSG:32610', "
                "ST_GeomFromText('POLYGON((0 0,1200 0,1200 1200,0 1200,0 0))'))")
    con.execute("""CREATE TABLE marts.category_groups AS SELECT * FROM (VALUES ('calls', 'all', '*'),
                   ('calls', 'violent', 'Violent Crime')) t(dataset, category_group, category)""")
    # events: every third one violent; the 60 located in grid cell g11_11 are at two blocks, 1200 BLOCK MAIN ST the
    # more frequent (40 against 20)
    con.execute("""CREATE TABLE marts.events AS
                   SELECT 'calls' AS dataset, 'cad' AS source, CAST(i AS VARCHAR) AS event_id, 'metro' AS agency,
                          CASE WHEN i % 3 = 0 THEN 'Violent Crime' ELSE 'Traffic' END AS category,
                          DATE '2026-11-20' - CAST(i % 200 AS INTEGER) AS local_date,
                          CASE WHEN i < 40 THEN '1200 BLOCK MAIN ST' WHEN i < 60 THEN '1300 BLOCK MAIN ST' END
                            AS address_block
                   FROM range(3000) r(i)""")
    con.execute("""CREATE TABLE marts.event_units AS
                   SELECT 'calls' AS dataset, 'cad' AS source, CAST(i AS VARCHAR) AS event_id, 'metro' AS agency,
                          'grid' AS unit_type, 'g11_11' AS unit_id
                   FROM range(60) r(i)""")
    # CompStat: the agency and district D1 (week: 5 against 0, z 4.47 but under the minimum count; 28d: 500
    # against 400; ytd: not covered this year), and a beat the page leaves to the mart
    con.execute("""CREATE TABLE marts.compstat AS SELECT * FROM (VALUES
                   ('metro', 'agency', 'metro', 'calls', 'all', 'week', 120, 100, 20, 20.0, 1.9, 'ok'),
                   ('metro', 'agency', 'metro', 'calls', 'all', '28d', 500, 400, 100, 25.0, 4.7, 'ok'),
                   ('metro', 'agency', 'metro', 'calls', 'all', 'ytd', NULL, 4000, NULL, NULL, NULL,
                    'no comparison (data from 2026-02-01 to 2026-11-20)'),
                   ('metro', 'district', 'D1', 'calls', 'violent', 'week', 5, 0, 5, NULL, 4.47, 'ok'),
                   ('metro', 'district', 'D1', 'calls', 'violent', '28d', 12, 30, -18, -60.0, -3.6, 'ok'),
                   ('metro', 'district', 'D1', 'calls', 'violent', 'ytd', NULL, 300, NULL, NULL, NULL,
                    'no comparison (data from 2026-02-01 to 2026-11-20)'),
                   ('metro', 'beat', 'B1', 'calls', 'all', '28d', 50, 20, 30, 150.0, 5.5, 'ok'))
                   t(agency, unit_type, unit_id, dataset, category_group, period, n, n_last_year, change,
                     pct_change, poisson_z, comparison)""")
    # response times: district rows of 11 months, and the agency-wide rows (the same calls, one district)
    con.execute("""CREATE TABLE marts.response_times AS
                   SELECT 'metro' AS agency, p AS priority_level, 'D1' AS district,
                          CAST(DATE '2026-01-01' + INTERVAL (m) MONTH AS DATE) AS month, 100 AS n_calls,
                          300.0 + 10 * m AS response_s_median, 900.0 AS response_s_p90,
                          120.0 AS queue_s_median, 180.0 AS travel_s_median
                   FROM range(1, 4) a(p), range(10) b(m)""")
    con.execute("""CREATE TABLE marts.response_times_agency AS
                   SELECT * REPLACE ('(all districts)' AS district) FROM marts.response_times""")
    con.execute("""CREATE TABLE marts.repeat_location_rows AS
                   SELECT 'metro' AS agency, 'calls' AS dataset, 'all' AS category_group, 'all' AS origin,
                          'loc' || i AS location_key, i || '00 Block of Main St' AS address_block,
                          CAST(1000 / i AS INTEGER) AS n_repeat_window, i AS rank,
                          sum(1000.0 / i) OVER (ORDER BY i) / sum(1000.0 / i) OVER () AS cum_share_events,
                          i / 300.0 AS cum_share_locations, 1000 / i >= 3 AS is_repeat
                   FROM range(1, 301) r(i)""")
    con.execute("""CREATE TABLE marts.hotspot_audit AS SELECT * FROM (VALUES
                   ('metro', 'calls', 'hot_cells', 28, 12, 200, 82, 118, 0, 0.41, 36, 0.18, 3,
                    ['DRUGS', 'TRAFFIC_STOP', 'FIELD_INTERVIEW', 'WARRANT']),
                   ('metro', 'calls', 'top_places', 365, 10, 500, 25, 475, 0, 0.05, 45, 0.09, NULL,
                    ['DRUGS', 'TRAFFIC_STOP', 'FIELD_INTERVIEW', 'WARRANT']))
                   t(agency, dataset, scope, window_days, n_units, n_events, n_officer, n_community,
                     n_unknown_origin, officer_share, n_sensitive, sensitive_share, n_not_hot_on_community,
                     sensitive_natures)""")
    con.execute("""CREATE TABLE marts.emerging_hotspot_rows AS SELECT * FROM (VALUES
                   ('metro', 'calls', 'all', 'community', 'g11_11', 'New Hot Spot', 9, 4, 'week', 16),
                   ('metro', 'calls', 'all', 'community', 'g0_0', 'No Pattern Detected', 0, 0, 'week', 16))
                   t(agency, dataset, category_group, origin, unit_id, pattern, n, n_last_step, step, n_steps)""")
    con.execute("""CREATE TABLE marts.near_repeat AS
                   SELECT 'metro' AS agency, 'incidents' AS dataset, 'burglary' AS category_group,
                          s * 100.0 AS space_lo, s * 100.0 + 100 AS space_hi, t * 7.0 AS time_lo, t * 7.0 + 7 AS time_hi,
                          10 AS observed, 5.0 AS expected_mean, 2.0 - s * 0.5 AS knox_ratio, 0.01 * (1 + s + t) AS p_value
                   FROM range(3) a(s), range(3) b(t)""")
    con.execute("""CREATE TABLE marts.temporal_profile AS
                   SELECT 'metro' AS agency, 'calls' AS dataset, 'all' AS category_group, 'agency' AS unit_type,
                          'metro' AS unit_id, s AS slot, (s % 24) * 1.5 AS weight FROM range(168) r(s)""")
    con.execute("""CREATE TABLE marts.problem_assessment AS SELECT * FROM (VALUES
                   ('main_st', 'Main St burglaries', 'metro', DATE '2026-06-01', DATE '2026-01-01', DATE '2026-05-31',
                    DATE '2026-06-01', DATE '2026-10-31', 40, 28, 12, 13, 900, 910, -12.0, -20.0, -4.0,
                    'Down 30% with no displacement'))
                   t(problem, description, agency, response_date, pre_start, pre_end, post_start, post_end,
                     target_pre, target_post, buffer_pre, buffer_post, control_pre, control_post, wdd,
                     wdd_ci_low, wdd_ci_high, sentence)""")
    con.execute("""CREATE TABLE marts.coverage AS SELECT 'metro' AS agency, 'calls' AS dataset, 'cad' AS source,
                   DATE '2025-01-01' AS first_day, DATE '2026-11-20' AS last_complete_day, 3000 AS n_events,
                   0 AS n_outage_days, NULL::DATE AS first_outage_day, NULL::DATE AS last_outage_day""")
    fill_restatements(con)


def fill_restatements(con) -> None:
    """Two kept nights eight days apart, and district D1's violent 28 days restated by two records since the older."""
    from transforms.marts.restatements import RESTATEMENT_RECORDS, RESTATEMENTS, ensure_published
    from transforms.marts.write import create_mart

    ensure_published(con)
    con.execute("""INSERT INTO meta.published_compstat VALUES
                   ('metro', 'district', 'D1', 'calls', 'violent', '28d', DATE '2026-10-16', DATE '2026-11-12', 14,
                    'r_old', TIMESTAMPTZ '2026-11-13 08:00:00+00'),
                   ('metro', 'district', 'D1', 'calls', 'violent', '28d', DATE '2026-10-24', DATE '2026-11-20', 12,
                    'r_new', TIMESTAMPTZ '2026-11-21 08:00:00+00')""")
    create_mart(con, RESTATEMENTS)
    create_mart(con, RESTATEMENT_RECORDS)
    con.execute("""INSERT INTO marts.restatements VALUES ('r_old', TIMESTAMPTZ '2026-11-13 08:00:00+00', 'metro',
                   'district', 'D1', 'calls', 'violent', '28d', DATE '2026-10-16', DATE '2026-11-12', 14, 12, -2, -2, 2,
                   0)""")
    con.execute("""INSERT INTO marts.restatement_records VALUES
                   ('metro', 'district', 'D1', 'calls', 'violent', '28d', DATE '2026-10-16', DATE '2026-11-12', 'r_old',
                    'cad', 'C-17', DATE '2026-11-02', -1, 'reclassified', 'Violent Crime', 'Traffic'),
                   ('metro', 'district', 'D1', 'calls', 'violent', '28d', DATE '2026-10-16', DATE '2026-11-12', 'r_old',
                    'cad', 'C-18', DATE '2026-11-03', -1, 'voided or unfounded', 'not void', 'void')""")
