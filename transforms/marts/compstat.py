"""CompStat-style marts: period counts against the same period last year, top-N lists, response times.

marts.compstat
    Counts of marts.events per agency x unit (district and beat) x dataset x category group for three
    periods ending at as_of (local dates, inclusive): week (last 7 days), 28d (last 28 days) and ytd
    (Jan 1 of as_of's year .. as_of). Each is compared with the same dates one year earlier (every date
    shifted back one calendar year; Feb 29 becomes Feb 28, so a last-year period can be one day shorter
    than this year's when it spans a leap day). Every unit x dataset x group with an event in any of the
    compared ranges gets all three periods (0 / 0 rows included), so zero-now-but-some-last-year groups
    and the reverse are both present. unit_id is null for events without a recorded district / beat.
    pct_change is a percentage (100 * change / n_last_year), null when n_last_year is 0;
    poisson_z = 2 (sqrt(n) - sqrt(n_last_year)) (transforms.assessment.poisson_z).

marts.compstat_top
    Top-5 lists per agency x district (rows with no district are skipped), kind:
    - hotspot: grid cells of marts.hotspot_stats / marts.hotspots (dataset calls, category group all,
      origin all, window_days 28) with z > 0, by z. A cell's district is the most common district of the
      events assigned to it (marts.event_units unit_type 'grid' joined to marts.events, any date and
      dataset; ties to the smaller district name); cells with no such event are skipped.
    - repeat_location: location_keys of marts.repeat_location_rows (calls, all, origin all) by
      n_repeat_window; the district is the most common district of marts.events at that location_key.
    - call_type_growth: call types (event_type of dataset calls) with the largest positive change from the
      same 28 days last year to the last 28 days.
    A kind whose input mart is missing is skipped.

marts.response_times / marts.response_times_excluded
    Median and 90th percentile (DuckDB quantile_cont: linear interpolation, median = quantile_cont 0.5) of
    response_s, queue_s and travel_s per agency x priority_level x district x local month of event_at,
    over community calls that are countable, not void, not cancelled and have a response time (response_s
    not null). Every other call is counted in marts.response_times_excluded under the first reason that
    applies, in this order: void, not_countable, officer_initiated, unknown_origin (any origin other than
    community/officer), cancelled, no_onscene_time.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from transforms.marts.build import write_mart
from transforms.stats.wdd import poisson_z
from transforms.warehouse.sqlutil import qstr, relation_exists

TOP_N = 5
PERIODS = ("week", "28d", "ytd")


def last_year(d: date) -> date:
    """The same calendar date one year earlier; Feb 29 -> Feb 28."""
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return d.replace(year=d.year - 1)


def periods(as_of: date) -> list[tuple[str, date, date, date, date]]:
    """(period, start, end, last_year_start, last_year_end) for week, 28d and ytd ending at as_of."""
    starts = {"week": as_of - timedelta(days=6), "28d": as_of - timedelta(days=27), "ytd": date(as_of.year, 1, 1)}
    return [(p, starts[p], as_of, last_year(starts[p]), last_year(as_of)) for p in PERIODS]


def _d(x: date) -> str:
    return f"DATE '{x.isoformat()}'"


def build_compstat(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """marts.compstat and marts.compstat_top for as_of; returns the number of marts.compstat rows."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    per = periods(as_of)
    values = ", ".join(f"('{p}', {_d(s)}, {_d(e)}, {_d(ls)}, {_d(le)})" for p, s, e, ls, le in per)
    lo = min(min(s, ls) for _, s, _, ls, _ in per)
    df = con.execute(f"""
        WITH per(period, period_start, period_end, ly_start, ly_end) AS (VALUES {values}),
        ev AS (
          SELECT e.agency, e.dataset, g.category_group, e.local_date, e.district, e.beat
          FROM marts.events e
          JOIN marts.category_groups g ON g.dataset = e.dataset AND (g.category = '*' OR g.category = e.category)
          WHERE e.local_date BETWEEN {_d(lo)} AND {_d(as_of)}),
        unit_ev AS (
          SELECT agency, 'district' AS unit_type, CAST(district AS VARCHAR) AS unit_id, dataset, category_group,
                 local_date FROM ev
          UNION ALL
          SELECT agency, 'beat', CAST(beat AS VARCHAR), dataset, category_group, local_date FROM ev
          UNION ALL
          SELECT agency, 'agency', agency, dataset, category_group, local_date FROM ev),
        tagged AS (
          SELECT u.*, p.period,
                 u.local_date BETWEEN p.period_start AND p.period_end AS is_now,
                 u.local_date BETWEEN p.ly_start AND p.ly_end AS is_ly
          FROM unit_ev u JOIN per p
            ON u.local_date BETWEEN p.period_start AND p.period_end
            OR u.local_date BETWEEN p.ly_start AND p.ly_end),
        counts AS (
          SELECT agency, unit_type, unit_id, dataset, category_group, period,
                 count(*) FILTER (WHERE is_now) AS n, count(*) FILTER (WHERE is_ly) AS n_last_year
          FROM tagged GROUP BY ALL),
        keys AS (SELECT DISTINCT agency, unit_type, unit_id, dataset, category_group FROM counts)
        SELECT k.agency, k.unit_type, k.unit_id, k.dataset, k.category_group, p.period,
               p.period_start, p.period_end, p.ly_start AS last_year_start, p.ly_end AS last_year_end,
               CAST(coalesce(c.n, 0) AS BIGINT) AS n, CAST(coalesce(c.n_last_year, 0) AS BIGINT) AS n_last_year
        FROM keys k CROSS JOIN per p
        LEFT JOIN counts c ON c.agency = k.agency AND c.unit_type = k.unit_type
             AND c.unit_id IS NOT DISTINCT FROM k.unit_id AND c.dataset = k.dataset
             AND c.category_group = k.category_group AND c.period = p.period
        ORDER BY k.agency, k.unit_type, k.unit_id NULLS LAST, k.dataset, k.category_group,
                 CASE p.period WHEN 'week' THEN 0 WHEN '28d' THEN 1 ELSE 2 END""").df()
    df["change"] = (df["n"] - df["n_last_year"]).astype("int64")
    ly = df["n_last_year"].astype("float64")
    df["pct_change"] = (100.0 * df["change"] / ly).where(ly > 0)
    df["poisson_z"] = poisson_z(df["n_last_year"].to_numpy(), df["n"].to_numpy()) if len(df) else []
    df["as_of"] = as_of
    types = {**dict.fromkeys(("agency", "unit_type", "unit_id", "dataset", "category_group", "period"), "VARCHAR"),
             **dict.fromkeys(("period_start", "period_end", "last_year_start", "last_year_end"), "DATE"),
             **dict.fromkeys(("n", "n_last_year", "change"), "BIGINT"),
             "pct_change": "DOUBLE", "poisson_z": "DOUBLE", "as_of": "DATE"}
    write_mart(con, "compstat", df,
           "CompStat counts per agency x unit (unit_type agency (the whole agency), district or beat; unit_id "
           "null = not recorded) x dataset "
           "x category group for week (7 days), 28d and ytd ending at as_of (local dates, inclusive) against "
           "the same dates last year (shifted one year, Feb 29 -> Feb 28): n, n_last_year, change, "
           "pct_change = 100*change/n_last_year (null when n_last_year = 0), poisson_z = "
           "2(sqrt(n) - sqrt(n_last_year)). All three periods for every unit/group seen in any compared range.", types)
    _build_top(con, as_of)
    return len(df)


def _build_top(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    parts: list[str] = []
    events = relation_exists(con, "marts", "events")
    hs = "hotspot_stats" if relation_exists(con, "marts", "hotspot_stats") else (
        "hotspots" if relation_exists(con, "marts", "hotspots") else None)
    if events and hs and relation_exists(con, "marts", "event_units"):
        parts.append(f"""
          SELECT * FROM (
            WITH cell_district AS (
              SELECT agency, unit_id, district FROM (
                SELECT eu.agency, eu.unit_id, CAST(e.district AS VARCHAR) AS district,
                       row_number() OVER (PARTITION BY eu.agency, eu.unit_id
                                          ORDER BY count(*) DESC, CAST(e.district AS VARCHAR)) AS rn
                FROM marts.event_units eu
                JOIN marts.events e USING (dataset, source, event_id)
                WHERE eu.unit_type = 'grid' AND eu.unit_id IS NOT NULL AND e.district IS NOT NULL
                GROUP BY eu.agency, eu.unit_id, CAST(e.district AS VARCHAR)) WHERE rn = 1),
            cand AS (
              SELECT h.agency, d.district, h.unit_id AS item, CAST(NULL AS VARCHAR) AS label,
                     CAST(h.z AS DOUBLE) AS score, CAST(h.n AS BIGINT) AS n, CAST(NULL AS BIGINT) AS n_compare
              FROM marts.{hs} h JOIN cell_district d ON d.agency = h.agency AND d.unit_id = h.unit_id
              WHERE h.unit_type = 'grid' AND h.window_days = 28 AND h.origin = 'all'
                AND h.category_group = 'all' AND h.dataset = 'calls' AND h.z > 0)
            SELECT 'hotspot' AS kind, *, row_number() OVER (PARTITION BY agency, district
                                                            ORDER BY score DESC, item) AS rank FROM cand)""")
    if events and relation_exists(con, "marts", "repeat_location_rows"):
        parts.append("""
          SELECT * FROM (
            WITH loc_district AS (
              SELECT agency, location_key, district FROM (
                SELECT agency, location_key, CAST(district AS VARCHAR) AS district,
                       row_number() OVER (PARTITION BY agency, location_key
                                          ORDER BY count(*) DESC, CAST(district AS VARCHAR)) AS rn
                FROM marts.events WHERE location_key IS NOT NULL AND district IS NOT NULL
                GROUP BY agency, location_key, CAST(district AS VARCHAR)) WHERE rn = 1),
            cand AS (
              SELECT r.agency, d.district, r.location_key AS item, CAST(r.address_block AS VARCHAR) AS label,
                     CAST(r.n_repeat_window AS DOUBLE) AS score, CAST(r.n_repeat_window AS BIGINT) AS n,
                     CAST(NULL AS BIGINT) AS n_compare
              FROM marts.repeat_location_rows r
              JOIN loc_district d ON d.agency = r.agency AND d.location_key = r.location_key
              WHERE r.origin = 'all' AND r.category_group = 'all' AND r.dataset = 'calls')
            SELECT 'repeat_location' AS kind, *, row_number() OVER (PARTITION BY agency, district
                                                                    ORDER BY score DESC, item) AS rank FROM cand)""")
    if events:
        s, e = as_of - timedelta(days=27), as_of
        ls, le = last_year(s), last_year(e)
        parts.append(f"""
          SELECT * FROM (
            WITH c AS (
              SELECT agency, CAST(district AS VARCHAR) AS district, CAST(event_type AS VARCHAR) AS item,
                     count(*) FILTER (WHERE local_date BETWEEN {_d(s)} AND {_d(e)}) AS n,
                     count(*) FILTER (WHERE local_date BETWEEN {_d(ls)} AND {_d(le)}) AS n_compare
              FROM marts.events
              WHERE dataset = 'calls' AND district IS NOT NULL AND event_type IS NOT NULL
                AND (local_date BETWEEN {_d(s)} AND {_d(e)} OR local_date BETWEEN {_d(ls)} AND {_d(le)})
              GROUP BY ALL),
            cand AS (
              SELECT agency, district, item, item AS label, CAST(n - n_compare AS DOUBLE) AS score,
                     CAST(n AS BIGINT) AS n, CAST(n_compare AS BIGINT) AS n_compare
              FROM c WHERE n > n_compare)
            SELECT 'call_type_growth' AS kind, *, row_number() OVER (PARTITION BY agency, district
                                                                     ORDER BY score DESC, item) AS rank
            FROM cand)""")
    empty = ("SELECT CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS VARCHAR) AS agency, CAST(NULL AS VARCHAR) "
             "AS district, CAST(NULL AS VARCHAR) AS item, CAST(NULL AS VARCHAR) AS label, CAST(NULL AS DOUBLE) "
             "AS score, CAST(NULL AS BIGINT) AS n, CAST(NULL AS BIGINT) AS n_compare, CAST(NULL AS BIGINT) AS rank "
             "WHERE false")
    union = "\nUNION ALL BY NAME\n".join(parts) if parts else empty
    con.execute(f"""
        CREATE OR REPLACE TABLE marts.compstat_top AS
        SELECT agency, district, kind, CAST(rank AS INTEGER) AS rank, item, label, score, n, n_compare,
               {_d(as_of)} AS as_of
        FROM ({union}) WHERE rank <= {TOP_N}
        ORDER BY agency, district, kind, rank""")
    con.execute(
        "COMMENT ON TABLE marts.compstat_top IS "
        + qstr(f"top {TOP_N} per agency x district and kind: hotspot (grid cells, calls/all/origin all, 28-day "
               "Gi* z > 0, score = z; a cell's district = most common district of its events, cells without "
               "one skipped), repeat_location (location_key, score = n_repeat_window; district = most common "
               "district of its events), call_type_growth (event_type, score = n - n_compare, last 28 days "
               "vs the same days last year, increases only). A kind whose input mart is missing is skipped."))


def build_response_times(con: duckdb.DuckDBPyConnection, bounded: bool = False) -> int:
    """marts.response_times and marts.response_times_excluded from core.calls; returns response_times rows.

    bounded: only whole local months from the agency's first date in marts.horizon on, so the nightly cost
    stays bounded by the horizon instead of growing with history."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    bound = ""
    if bounded:
        m0 = ("CASE WHEN day(h.first_date) = 1 THEN h.first_date "
              "ELSE CAST(date_trunc('month', h.first_date) + INTERVAL 1 MONTH AS DATE) END")
        bound = (f"""JOIN (SELECT agency, min(first_date) AS first_date FROM marts.horizon GROUP BY agency) h
                       USING (agency)
                     WHERE c.event_at >= (SELECT min(first_date) FROM marts.horizon) - INTERVAL 1 DAY
                       AND date_trunc('month', timezone(z.timezone, c.event_at)) >= {m0}""")
    base = f"""
        WITH c AS (
          SELECT c.*, CAST(date_trunc('month', timezone(z.timezone, c.event_at)) AS DATE) AS month,
                 CASE WHEN c.is_void THEN 'void'
                      WHEN NOT c.is_countable THEN 'not_countable'
                      WHEN c.origin = 'officer' THEN 'officer_initiated'
                      WHEN c.origin IS DISTINCT FROM 'community' THEN 'unknown_origin'
                      WHEN c.disposition_category = 'Cancelled' THEN 'cancelled'
                      WHEN c.response_s IS NULL THEN 'no_onscene_time'
                 END AS reason
          FROM core.calls c JOIN marts.agency_zones z USING (agency) {bound})"""
    con.execute(f"""
        CREATE OR REPLACE TABLE marts.response_times AS {base}
        SELECT agency, priority_level, CAST(district AS VARCHAR) AS district, month,
               count(*) AS n_calls,
               median(response_s) AS response_s_median, quantile_cont(response_s, 0.9) AS response_s_p90,
               count(queue_s) AS n_queue, median(queue_s) AS queue_s_median,
               quantile_cont(queue_s, 0.9) AS queue_s_p90,
               count(travel_s) AS n_travel, median(travel_s) AS travel_s_median,
               quantile_cont(travel_s, 0.9) AS travel_s_p90
        FROM c WHERE reason IS NULL
        GROUP BY ALL ORDER BY agency, priority_level NULLS LAST, district NULLS LAST, month""")
    con.execute(f"""
        CREATE OR REPLACE TABLE marts.response_times_excluded AS {base}
        SELECT agency, month, reason, count(*) AS n_calls
        FROM c WHERE reason IS NOT NULL GROUP BY ALL ORDER BY agency, month, reason""")
    con.execute(
        "COMMENT ON TABLE marts.response_times IS "
        + qstr("median and 90th percentile (quantile_cont, linear interpolation) of response_s, queue_s and "
               "travel_s per agency x priority_level x district x local month of event_at, over community "
               "calls that are countable, not void, not cancelled and have a response_s; n_calls = those calls, "
               "n_queue / n_travel = how many had that interval; whole months from marts.horizon's first "
               "date on"))
    con.execute(
        "COMMENT ON TABLE marts.response_times_excluded IS "
        + qstr("calls left out of marts.response_times per agency x local month, by the first reason that "
               "applies: void, not_countable, officer_initiated, unknown_origin, cancelled, no_onscene_time"))
    return con.execute("SELECT count(*) FROM marts.response_times").fetchone()[0]
