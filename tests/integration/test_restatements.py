"""marts.restatements and marts.restatement_records: the CompStat figures past nights published, against the same
figures counted now, and the records that account for each difference.

The sum rule (sum of a figure's record deltas = value now - value then) is checked with value now counted here,
independently, from marts.events and marts.category_groups with the compstat rules, never from the mart's own
value_now. Two cases: Test City with two hand-made nights through the real nightly flow (reclassified, voided,
retimed and late calls inside a published week), and the demo's six nights through the nightly flow, each
building the marts, with the as-of date following the data (the demo's config fixes it at its last day, which
no night before the last covers: their figures would all be "no data", and nothing could be restated)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import duckdb
import pytest

from tests.support.report import section_html

HEADER = "id,received,dispatched,onscene,cleared,updated,type,disp,address,lon,lat,onview"
TYPES = ("code,call_type,call_category,origin\nBURG,Burglary,Burglary,community\nTHEFT,Theft,Theft,community\n"
         "TS,Traffic Stop,Traffic,officer\n")
CROSSWALKS = {
    "types.csv": TYPES,
    "disp.csv": "code,disposition,disposition_category,countable,void\nRPT,Report,Report,true,false\n"
                "CAN,Cancel,Cancelled,false,false\nVOID,Void,Other,false,true\n",
    "city_call_types.csv": "code,call_type,call_category\n",
}
# a custom group from config: membership must follow it as marts.event_dims does
EXTRA = """
[time]
as_of = 2024-03-10
[analysis.category_groups]
calls = { thefts = ["Theft"] }
"""
AS_OF = date(2024, 3, 10)
FIRST = date(2024, 1, 20)


def _row(cid: str, day: date, hour: int, kind: str, updated: str, disp: str = "RPT") -> str:
    return (f"{cid},{day.isoformat()} {hour:02d}:00,,,,{updated},{kind},{disp},100 MAIN ST,-122.41,37.78,N")


def _night1() -> list[str]:
    """Two calls a day, a burglary at 10:00 and a theft at 14:00, from FIRST to AS_OF: every day covered."""
    rows, d = [], FIRST
    while d <= AS_OF:
        rows += [_row(f"B{d:%m%d}", d, 10, "BURG", "2024-03-10 23:00"),
                 _row(f"T{d:%m%d}", d, 14, "THEFT", "2024-03-10 23:00")]
        d += timedelta(days=1)
    return rows


UPD = "2024-03-11 12:00"
NIGHT2 = [
    _row("B0308", date(2024, 3, 8), 10, "THEFT", UPD),           # reclassified burglary -> theft
    _row("B0309", date(2024, 3, 9), 10, "THEFT", UPD),           # reclassified burglary -> theft
    _row("T0309", date(2024, 3, 9), 14, "THEFT", UPD, "VOID"),   # voided
    _row("B0305", date(2024, 2, 20), 10, "BURG", UPD),           # retimed out of the week, still in 28 days
    _row("L1", date(2024, 3, 7), 9, "BURG", UPD),                # a late report inside the published week
]


def independent_now(con, figures: list[tuple]) -> dict[tuple, int]:
    """Each figure (agency, unit_type, unit_id, dataset, category_group, period_start, period_end) counted here,
    in Python, from the rows of marts.events and marts.category_groups with compstat's rules (origin all, the
    local date, '(unassigned)' for a unit not recorded, a group's categories or '*')."""
    groups: dict[tuple, set] = {}
    for ds, g, cat in con.execute("SELECT dataset, category_group, category FROM marts.category_groups").fetchall():
        groups.setdefault((ds, g), set()).add(cat)
    events = con.execute("SELECT agency, dataset, category, CAST(district AS VARCHAR), CAST(beat AS VARCHAR), "
                         "local_date FROM marts.events").fetchall()
    out = {}
    for key in figures:
        agency, unit_type, unit_id, dataset, group, start, end = key
        cats = groups.get((dataset, group), set())
        col = {"district": 3, "beat": 4}.get(unit_type)
        out[key] = sum(1 for e in events if e[0] == agency and e[1] == dataset and start <= e[5] <= end
                       and ("*" in cats or e[2] in cats)
                       and (col is None or (e[col] if e[col] is not None else "(unassigned)") == unit_id))
    return out


def earlier_nights(con) -> list[str]:
    """The kept nights before the latest (the one whose marts the file holds), newest first, at most 8."""
    return [r[0] for r in con.execute("""SELECT run_id FROM meta.published_compstat GROUP BY run_id
                                         ORDER BY max(published_at) DESC LIMIT 9""").fetchall()[1:]]


def check_sum_rule(con) -> int:
    """For every figure published on each earlier kept night: sum(delta) = value now (counted here) - value then
    (meta.published_compstat); every figure that moved is in marts.restatements and nothing is unaccounted for.
    Returns the number of figures checked."""
    figures = con.execute(
        """SELECT p.run_id, p.agency, p.unit_type, p.unit_id, p.dataset, p.category_group, p.period_start,
                  p.period_end, p.n, coalesce(sum(r.delta), 0)
           FROM meta.published_compstat p
           LEFT JOIN marts.restatement_records r USING (run_id, agency, unit_type, unit_id, dataset, category_group,
                                                        period)
           WHERE p.n IS NOT NULL AND list_contains(?, p.run_id)
           GROUP BY ALL""", [earlier_nights(con)]).fetchall()
    now = independent_now(con, list({f[1:8] for f in figures}))
    bad = [f for f in figures if f[9] != now[f[1:8]] - f[8]]
    assert bad == [], bad[:10]
    moved = {(f[0], *f[1:8]) for f in figures if now[f[1:8]] != f[8]}
    listed = {r[:8] for r in con.execute(
        """SELECT run_id, agency, unit_type, unit_id, dataset, category_group, period_start, period_end
           FROM marts.restatements""").fetchall()}
    assert moved <= listed
    assert con.execute("SELECT count(*) FROM marts.restatements WHERE unaccounted <> 0 OR change <> records_delta"
                       ).fetchone()[0] == 0
    return len(figures)


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory, prefect_harness):
    """Test City: night 1 publishes every day from FIRST to AS_OF; night 2 restates some of the week."""
    from flows.nightly import nightly
    from tests.support.project import write_project

    root = write_project(tmp_path_factory.mktemp("restate") / "proj", ("cad",), crosswalks=CROSSWALKS, extra=EXTRA)
    landing = root / "data" / "landing" / "cad"
    landing.mkdir(parents=True)
    results = []
    for name, rows in (("cad_20240311T020000.csv", _night1()), ("cad_20240312T020000.csv", NIGHT2)):
        (landing / name).write_text("\n".join([HEADER, *rows]) + "\n")
        with contextlib.chdir(root):
            results.append(nightly(config_path=str(root / "config" / "sara.toml")))
        assert results[-1]["status"] == "ok", results[-1]["message"]
    return root, results


def test_hand_made_then_now_and_reasons(hand_made):
    root, results = hand_made
    con = duckdb.connect(results[-1]["warehouse"], read_only=True)
    try:
        (night1,) = con.execute("SELECT DISTINCT run_id FROM marts.restatements").fetchall()[0:1]
        figs = {(r[0], r[1]): r[2:] for r in con.execute(
            """SELECT category_group, period, value_then, value_now, change, n_records FROM marts.restatements
               WHERE unit_type = 'agency' AND dataset = 'calls'""").fetchall()}
        # week 2024-03-04..10: 7 burglaries and 7 thefts published; two burglaries became thefts, one burglary
        # moved to 20 February, one late burglary on 7 March, one theft voided
        assert figs[("burglary", "week")] == (7, 5, -2, 4)
        assert figs[("thefts", "week")] == (7, 8, 1, 3)
        assert figs[("all", "week")] == (14, 13, -1, 3)
        # 28 days: the retimed burglary stays inside
        assert figs[("burglary", "28d")] == (28, 27, -1, 3)
        assert ("burglary", "ytd") not in figs  # the year to date was not covered (data from 20 January)
        recs = sorted(con.execute(
            """SELECT record_id, delta, reason, old_value, new_value FROM marts.restatement_records
               WHERE unit_type = 'agency' AND category_group = 'burglary' AND period = 'week'""").fetchall())
        assert recs == [("B0305", -1, "retimed", "2024-03-05", "2024-02-20"),
                        ("B0308", -1, "reclassified", "Burglary", "Theft"),
                        ("B0309", -1, "reclassified", "Burglary", "Theft"),
                        ("L1", 1, "late report added", None, "2024-03-07")]
        assert sorted(con.execute(
            """SELECT record_id, delta, reason FROM marts.restatement_records
               WHERE category_group = 'thefts' AND period = 'week'""").fetchall()) == [
            ("B0308", 1, "reclassified"), ("B0309", 1, "reclassified"), ("T0309", -1, "voided or unfounded")]
        assert check_sum_rule(con) >= 6
        # both nights' figures are kept, each with its publication time
        kept = con.execute("""SELECT p.run_id, count(*), bool_and(p.published_at = r.finished_at)
                              FROM meta.published_compstat p JOIN meta.runs r USING (run_id) GROUP BY ALL""").fetchall()
        assert len(kept) == 2 and all(ok for _, _, ok in kept), kept
        assert night1
    finally:
        con.close()


def test_hand_made_report_says_what_was_restated_and_why(hand_made):
    import re

    from transforms.config import load_settings
    from transforms.outputs.report import render_report

    root, results = hand_made
    settings = load_settings(root / "config" / "sara.toml", project_dir=root)
    con = duckdb.connect(results[-1]["warehouse"], read_only=True)
    try:
        page = render_report(con, settings)
    finally:
        con.close()
    text = re.sub(r"<[^>]+>", " ", section_html(page, "restatements"))
    text = re.sub(r"\s+", " ", text)
    assert "the oldest night kept" in text  # the two nights are minutes apart, not a week
    # one sentence per figure: its periods' reasons in brackets when they differ, once when they are the same
    assert ("Calls for service, burglary, agency-wide, last 7 days: 7 → 5 (2 reclassified to Theft, "
            "1 late report added, 1 retimed out of the period), last 28 days: 28 → 27 (2 reclassified to Theft, "
            "1 late report added)") in text
    assert ("Calls for service, thefts, agency-wide, last 7 days: 7 → 8, last 28 days: 28 → 29; 2 reclassified "
            "from Burglary, 1 voided or unfounded") in text
    # the records, once per change
    assert "The records behind these changes (5)" in text
    assert "B0308" in text and "Burglary → Theft" in text and "(not known) → 2024-03-07" in text


def _synthetic_section(tiny_project, tmp_path, change=None) -> str:
    import re

    from tests.support.report import render_synthetic

    text = section_html(render_synthetic(tiny_project, tmp_path, change), "restatements")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def test_report_compares_with_the_night_a_week_before(tiny_project, tmp_path):
    text = _synthetic_section(tiny_project, tmp_path)
    assert "Compared with the figures published 2026-11-13 00:00 PST (the night a week before this one)" in text
    assert ("Calls for service, violent, district D1, last 28 days: 14 → 12; 1 reclassified to Traffic, "
            "1 voided or unfounded") in text
    assert "C-17" in text and "Violent Crime → Traffic" in text and "The records behind these changes (2)" in text


def test_reasons_are_counted_in_words():
    from transforms.outputs.report.restatements import _counted

    assert _counted(1, "late report added") == "1 late report added"
    assert _counted(3, "late report added") == "3 late reports added"
    assert _counted(2, "disposition changed (Handled → Cancelled)") == "2 dispositions changed (Handled → Cancelled)"
    assert _counted(2, "reclassified to Theft") == "2 reclassified to Theft"


def test_report_says_when_nothing_was_restated(tiny_project, tmp_path):
    text = _synthetic_section(tiny_project, tmp_path, lambda con: con.execute("DELETE FROM marts.restatements"))
    assert "Nothing restated: no CompStat figure (agency or district) published then differs by 1 or more" in text


def test_report_says_when_no_earlier_night_is_kept(tiny_project, tmp_path):
    text = _synthetic_section(tiny_project, tmp_path, lambda con: con.execute(
        "DELETE FROM meta.published_compstat WHERE run_id = 'r_old'"))
    assert ("No earlier night's figures are kept yet (figures are kept from 2026-11-21 00:00 PST on): there is "
            "nothing to compare with.") in text
