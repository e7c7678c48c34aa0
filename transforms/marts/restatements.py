"""How the CompStat figures published on past nights were restated since (sara issue 18).

meta.published_compstat
    The CompStat figures (marts.compstat: agency x unit x dataset x category group x period, with its dates and
    n) as each night published them, kept between nights: tonight's are appended by the marts build (the
    local build_all, or the scale-out writer after its merge), in the night's build file, so they are kept
    exactly when the night is published. published_at is the night's meta.runs.finished_at (set when the run
    is recorded; a build outside a night appends nothing). The last KEEP_NIGHTS nights are kept. A rebuild from
    an empty warehouse (`sara rebuild`) starts it again.

marts.restatements
    For each figure as published on each of the last NIGHTS nights before tonight: value_then (n as
    published), value_now (the same figure, same dates, counted tonight from marts.event_dims), change, the sum
    of its records' deltas and `unaccounted` (change - records_delta: 0 unless the figure moved for another
    reason than a record's version, such as a changed category group in config). A figure whose value did not
    change and that has no record is left out; a figure published without a count (period not covered) too.

marts.restatement_records
    The records that account for each difference: one row per figure x record whose counting in it changed
    (delta +1 counted now and not then, -1 the reverse), with the first reason that applies, in this order:
    late report added (not known then), removed by a replaced extract (no current version), voided or
    unfounded / restored, disposition changed (the call's countable flag), reclassified (category in or out of
    the figure's group), retimed (local date in or out of the period), moved to another agency, relocated
    (district or beat). Sum rule: for every figure, sum(delta) = value_now - value_then (unaccounted = 0).
    Only records with a version published after the night are examined (keyed by record: the version then,
    core.*_as_known_at, against the current one), so the cost follows what changed, not the warehouse.

The set logic is in sql/marts/restatement_records.sql and sql/marts/restatements.sql.
"""

from __future__ import annotations

import duckdb

from transforms.marts.models import insert_model
from transforms.marts.write import SHARED_COLUMNS, Mart, create_mart
from transforms.warehouse.sqlutil import qstr, relation_exists

NIGHTS = 8  # the published nights before tonight that marts.restatements looks back to
KEEP_NIGHTS = 60  # the nights meta.published_compstat keeps

FIGURE = ("agency VARCHAR, unit_type VARCHAR, unit_id VARCHAR, dataset VARCHAR, category_group VARCHAR, "
          "period VARCHAR, period_start DATE, period_end DATE")
FIGURE_COMMENTS = {
    "unit_type": "agency (the whole agency), district or beat, as marts.compstat",
    "unit_id": "the district or beat ('(unassigned)' = not recorded); the agency code for unit_type agency",
    "period": "week (7 days), 28d or ytd, as marts.compstat",
    "period_start": "first local date (agency zone) of the period as published, inclusive",
    "period_end": "last local date of the period as published, inclusive (that night's as_of)",
    "run_id": "the night that published the figure (meta.runs.run_id)",
}
PUBLISHED = {
    "published_at": ("TIMESTAMPTZ", "when the night was published: its meta.runs.finished_at, UTC (set when the "
                                    "run is recorded)"),
    "n": ("BIGINT", "the figure's count as published (marts.compstat.n; null: period not covered then)"),
    "run_id": ("VARCHAR", FIGURE_COMMENTS["run_id"]),
}
RESTATEMENTS = Mart(
    "restatements",
    f"run_id VARCHAR, published_at TIMESTAMPTZ, {FIGURE}, value_then BIGINT, value_now BIGINT, change BIGINT, "
    "records_delta BIGINT, n_records BIGINT, unaccounted BIGINT",
    f"CompStat figures as published on each of the last {NIGHTS} nights before this one (meta.published_compstat) "
    "against the same figure, same dates, counted now: value_then, value_now, change, and the records that "
    "account for it (marts.restatement_records; records_delta = the sum of their deltas). Only figures whose value "
    "moved or that have records; figures published without a count are left out.",
    column_comments={
        **FIGURE_COMMENTS,
        "published_at": PUBLISHED["published_at"][1],
        "value_then": "the figure's count as published that night",
        "value_now": "the same figure (same dates) counted on tonight's data (marts.event_dims, origin all)",
        "change": "value_now - value_then, events",
        "records_delta": "sum of delta of the figure's rows in marts.restatement_records",
        "n_records": "rows of the figure in marts.restatement_records",
        "unaccounted": "change - records_delta: 0 unless the figure moved for a reason other than a record's "
                       "version (a changed category group or agency zone in config)",
    })
RESTATEMENT_RECORDS = Mart(
    "restatement_records",
    f"{FIGURE}, run_id VARCHAR, source VARCHAR, record_id VARCHAR, local_date DATE, delta INTEGER, reason VARCHAR, "
    "old_value VARCHAR, new_value VARCHAR",
    "The records whose counting in a published CompStat figure (marts.restatements) changed since that night: "
    "one row per figure x record, delta +1 (counted now, not then) or -1, with the first reason that applies: "
    "late report added, removed by a replaced extract, voided or unfounded, restored, disposition changed, "
    "reclassified, retimed, moved to another agency, relocated. Per figure, sum(delta) = value_now - value_then.",
    column_comments={
        **FIGURE_COMMENTS,
        "record_id": "the call_id (calls) or incident_id (incidents)",
        "local_date": "local date (agency zone) of the record's time now (then, when it has no current version)",
        "delta": "+1: counted in the figure now and not as published; -1: counted then and not now",
        "reason": "late report added (not known then), removed by a replaced extract (no current version), "
                  "voided or unfounded, restored, disposition changed (a call's countable flag), reclassified "
                  "(category in or out of the group), retimed (date in or out of the period), moved to another "
                  "agency, relocated (district or beat): the first that applies, in this order",
        "old_value": "the value then, as text: category (reclassified), disposition (counted or not), local date "
                     "(retimed, removed), district or beat (relocated), void or not void",
        "new_value": "the value now, as text, as old_value; null for a removed record",
    })


def ensure_published(con: duckdb.DuckDBPyConnection) -> None:
    """meta.published_compstat, empty when missing, with its comments."""
    cols = ", ".join(f"{c} {t}" for c, t in
                     [*(p.split() for p in FIGURE.split(", ")), ("n", "BIGINT"), ("run_id", "VARCHAR"),
                      ("published_at", "TIMESTAMPTZ")])
    if relation_exists(con, "meta", "published_compstat"):
        return
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE TABLE meta.published_compstat ({cols})")
    con.execute("COMMENT ON TABLE meta.published_compstat IS "
                + qstr(f"The CompStat figures (marts.compstat) as each night published them, kept between nights "
                       f"(the last {KEEP_NIGHTS}): what marts.restatements compares the figures counted now with"))
    comments = {**{c: SHARED_COLUMNS[c] for c in ("agency", "dataset", "category_group")}, **FIGURE_COMMENTS,
                **{c: text for c, (_, text) in PUBLISHED.items()}}
    for c, text in comments.items():
        con.execute(f"COMMENT ON COLUMN meta.published_compstat.{c} IS {qstr(text)}")


def tonight(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run being built: the latest meta.runs row not finished yet; None outside a night."""
    if not relation_exists(con, "meta", "runs"):
        return None
    row = con.execute("SELECT run_id FROM meta.runs WHERE finished_at IS NULL ORDER BY started_at DESC LIMIT 1"
                      ).fetchone()
    return row[0] if row else None


def kept_nights(con: duckdb.DuckDBPyConnection, exclude: str | None, limit: int = NIGHTS) -> list[tuple]:
    """(run_id, published_at) of the last `limit` published nights kept, newest first, but `exclude`."""
    return con.execute(
        """SELECT run_id, published_at FROM meta.published_compstat
           WHERE published_at IS NOT NULL AND run_id IS DISTINCT FROM ?
           GROUP BY ALL ORDER BY published_at DESC LIMIT ?""", [exclude, limit]).fetchall()


def build_restatements(con: duckdb.DuckDBPyConnection) -> int:
    """marts.restatements and marts.restatement_records against the last NIGHTS published nights, then
    tonight's marts.compstat appended to meta.published_compstat; returns the marts.restatements rows.
    Needs the version history (core.call_versions): without it (a scaled-out agency's scratch file) the marts
    are left empty and nothing is published."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    create_mart(con, RESTATEMENT_RECORDS)
    create_mart(con, RESTATEMENTS)
    if not (relation_exists(con, "core", "call_versions") and relation_exists(con, "marts", "compstat")):
        return 0
    ensure_published(con)
    run_id = tonight(con)
    # a night recorded without the finish step's update (older code): its publication time from meta.runs
    con.execute("""UPDATE meta.published_compstat p SET published_at = r.finished_at FROM meta.runs r
                   WHERE p.run_id = r.run_id AND p.published_at IS NULL AND r.finished_at IS NOT NULL""")
    nights = kept_nights(con, run_id)
    for night, published_at in nights:
        insert_model(con, RESTATEMENT_RECORDS.table, RESTATEMENT_RECORDS.names, "restatement_records", run_id=night,
                     published_at=published_at)
    if nights:
        insert_model(con, RESTATEMENTS.table, RESTATEMENTS.names, "restatements", run_ids=[n for n, _ in nights])
    if run_id is not None:
        publish_compstat(con, run_id)
    return con.execute("SELECT count(*) FROM marts.restatements").fetchone()[0]


def publish_compstat(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Tonight's marts.compstat appended to meta.published_compstat (replacing a retried run's), and the nights
    beyond the last KEEP_NIGHTS dropped."""
    con.execute("DELETE FROM meta.published_compstat WHERE run_id = ?", [run_id])
    con.execute("""INSERT INTO meta.published_compstat
                   SELECT agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end, n,
                          ?, NULL FROM marts.compstat""", [run_id])
    keep = [r for r, _ in kept_nights(con, run_id, KEEP_NIGHTS - 1)] + [run_id]
    con.execute("DELETE FROM meta.published_compstat WHERE NOT list_contains(?, run_id)", [keep])
