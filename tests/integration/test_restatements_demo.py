"""marts.restatements on the demo's six nights through the nightly flow, each night building its marts.

Two changes to the demo, both in this test's copy: the as-of date follows the data (the demo's config fixes it
at its last day, which no night before the last covers: their figures would all be "no data" and nothing could
be restated), and four calls of the earlier nights are updated in the last night's metro CAD extract. At the
tests' scale the demo's own planted updates fill in dispositions that leave every figure as it was; the four
added here move figures: one reclassified to assault, one voided, one cancelled (not countable), one moved to a
point in another district.
"""

from __future__ import annotations

import contextlib
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.integration.test_restatements import check_sum_rule, earlier_nights

LATER = "11/20/2026 11:30:00 PM"  # a LastUpdatedDT newer than every version delivered before night 6
# the change planted -> the reason every row of the record must give, and the change core.version_changes shows
PLANTED = {"reclassify": ("reclassified", "reclassified"), "void": ("voided or unfounded", "voided or unfounded"),
           "cancel": ("disposition changed", "disposition"), "move": ("relocated", "relocated")}
CHANGE_OF = {"reclassified": "reclassified", "voided or unfounded": "voided or unfounded", "restored": "restored",
             "disposition changed": "disposition", "retimed": "retimed", "relocated": "relocated"}


@dataclass
class DemoNights:
    root: Path
    warehouse: Path
    manifest: dict
    published: list[dict]  # per night: run_id, finished_at, report
    planted: dict[str, str]  # call id -> kind of change planted in night 6


def _plant(demo_dir: Path, wh: Path) -> dict[str, str]:
    """Four calls counted in every earlier night's week (local dates 12 to 14 November), none violent, each updated in night
    6's regular metro extract; returns call id -> kind."""
    night6 = sorted((demo_dir / "extracts" / "night_06" / "demo_metro_calls").glob("metro_cad_*T020000.csv"))[-1]
    with open(night6, encoding="utf-8-sig", newline="") as fh:
        already = {r["CallNumber"] for r in csv.DictReader(fh)}
    with duckdb.connect(str(wh), read_only=True) as con:
        picks = con.execute(
            """SELECT call_id, call_category, district FROM core.calls
               WHERE source = 'demo_metro_calls' AND is_countable AND NOT is_void AND district IS NOT NULL
                 AND CAST(timezone('America/Los_Angeles', event_at) AS DATE) BETWEEN DATE '2026-11-12'
                                                                                 AND DATE '2026-11-14'
                 AND NOT list_contains(?, call_id)
                 AND call_category NOT IN ('Violent Crime', 'Domestic Violence')
               ORDER BY call_id""",
            [sorted(already)]).fetchall()
    assert len(picks) >= 5, picks
    kinds = dict(zip([p[0] for p in picks[:4]], ["reclassify", "void", "cancel", "move"], strict=True))
    mover = next(p for p in picks[:4] if kinds[p[0]] == "move")
    elsewhere = next(p[0] for p in picks[4:] if p[2] != mover[2])  # a call in another district: its point
    rows: dict[str, list[dict]] = {}
    point = None
    for k in range(1, 6):  # each call's rows as last delivered
        for f in (demo_dir / "extracts" / f"night_{k:02d}" / "demo_metro_calls").glob("*.csv"):
            with open(f, encoding="utf-8-sig", newline="") as fh:
                got: dict[str, list[dict]] = {}
                for r in csv.DictReader(fh):
                    if r["CallNumber"] in kinds:
                        got.setdefault(r["CallNumber"], []).append(r)
                    if r["CallNumber"] == elsewhere:
                        point = (r["Latitude"], r["Longitude"])
                rows.update(got)
    assert sorted(rows) == sorted(kinds) and point is not None
    with open(night6, "a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(next(iter(rows.values()))[0]))
        for cid, unit_rows in rows.items():
            for r in unit_rows:
                change = {"reclassify": {"FinalCallType": "ASLT"}, "void": {"Disposition": "VOID"},
                          "cancel": {"Disposition": "CAN"},
                          "move": {"Latitude": point[0], "Longitude": point[1]}}[kinds[cid]]
                w.writerow({**r, **change, "LastUpdatedDT": LATER})
    return kinds


@pytest.fixture(scope="module")
def demo_nights(demo_city, prefect_harness, tmp_path_factory) -> DemoNights:
    from flows.nightly import nightly
    from tests.support.project import demo_project
    from transforms.demo import deliver_night

    root = demo_project(tmp_path_factory.mktemp("demo_restate") / "proj", demo_city.path)
    cfg = root / "config" / "demo.toml"
    text = cfg.read_text()
    assert 'as_of = "2026-11-20"' in text
    cfg.write_text(text.replace('as_of = "2026-11-20"', ""))
    wh = root / "data" / "demo" / "warehouse" / "sara.duckdb"
    published, planted = [], {}
    for k in range(1, len(demo_city.nights) + 1):
        if k == len(demo_city.nights):
            planted = _plant(root / "data" / "demo", wh)
        deliver_night(root / "data" / "demo", k)
        with contextlib.chdir(root):
            result = nightly(config_path=str(cfg))
        assert result["status"] == "ok", result["message"]
        with duckdb.connect(str(wh), read_only=True) as con:
            run_id, finished = con.execute(
                "SELECT run_id, finished_at FROM meta.runs ORDER BY started_at DESC LIMIT 1").fetchone()
        published.append({"run_id": run_id, "finished_at": finished, "report": result.get("report")})
    return DemoNights(root, wh, demo_city.manifest, published, planted)


@pytest.fixture
def con(demo_nights):
    c = duckdb.connect(str(demo_nights.warehouse), read_only=True)
    yield c
    c.close()


def test_demo_sum_rule_holds_for_every_published_figure(demo_nights, con):
    # the last night looked back at the five before it
    assert earlier_nights(con) == [n["run_id"] for n in reversed(demo_nights.published[:-1])]
    assert check_sum_rule(con) > 1000
    # and keeps its own figures for the nights to come, with its publication time
    last = demo_nights.published[-1]
    assert con.execute("SELECT count(*), min(published_at) FROM meta.published_compstat WHERE run_id = ?",
                       [last["run_id"]]).fetchone() == (
        con.execute("SELECT count(*) FROM marts.compstat").fetchone()[0], last["finished_at"])


def test_demo_planted_changes_are_restated_with_their_reasons(demo_nights, con):
    got: dict[str, set] = {}
    for rid, reason in con.execute("SELECT DISTINCT record_id, reason FROM marts.restatement_records").fetchall():
        got.setdefault(rid, set()).add(reason)
    for rid, kind in demo_nights.planted.items():
        assert got.get(rid) == {PLANTED[kind][0]}, (rid, kind, got.get(rid))
    n_nights = len(demo_nights.published) - 1
    by = {kind: rid for rid, kind in demo_nights.planted.items()}
    # counted in every earlier night's agency-wide week and 28 days, then not: one row each
    for kind in ("void", "cancel"):
        assert con.execute("""SELECT count(*) FROM marts.restatement_records WHERE record_id = ? AND delta = -1
                              AND unit_type = 'agency' AND category_group = 'all' AND period IN ('week', '28d')""",
                           [by[kind]]).fetchone()[0] == 2 * n_nights
    # into violent, out of its old group; the move leaves the agency's figures alone
    assert con.execute("""SELECT count(*) FILTER (WHERE category_group = 'violent' AND delta = 1 AND new_value =
                                 'Violent Crime'), count(*) FILTER (WHERE category_group = 'all')
                          FROM marts.restatement_records WHERE record_id = ? AND unit_type = 'agency'
                            AND period = 'week'""", [by["reclassify"]]).fetchone() == (n_nights, 0)
    assert con.execute("""SELECT count(DISTINCT unit_type), sum(delta), count(*) FILTER (WHERE unit_type = 'agency')
                          FROM marts.restatement_records WHERE record_id = ?""", [by["move"]]).fetchone()[::2] == (
        2, 0)


def test_demo_each_restated_record_is_a_planted_change_with_its_reason(demo_nights, con):
    nights = {n["run_id"]: (k, n["finished_at"]) for k, n in enumerate(demo_nights.published, start=1)}
    manifest = demo_nights.manifest["nights"]
    rows = con.execute("SELECT DISTINCT run_id, dataset, source, record_id, reason FROM marts.restatement_records"
                       ).fetchall()
    assert len(rows) >= 4 * (len(nights) - 1)
    for run_id, dataset, source, record_id, reason in rows:
        k, published = nights[run_id]
        table, key = ("core.call_versions", "call_id") if dataset == "calls" else \
            ("core.incident_versions", "incident_id")
        current = con.execute(f"SELECT count(*) FROM {table} WHERE source = ? AND {key} = ? AND ended_load_id IS "
                              "NULL", [source, record_id]).fetchone()[0]
        if reason == "late report added":  # not known when the night published; known now
            assert con.execute(f"SELECT count(*) FROM core.{dataset}_as_known_at(?) WHERE source = ? AND {key} = ?",
                               [published, source, record_id]).fetchone()[0] == 0
            assert current == 1
            continue
        if reason == "removed by a replaced extract":
            assert current == 0
            continue
        planted = {str(i) for night in manifest[k:] for ids in
                   night.get(source, {}).get("updated_by_first_night", {}).values() for i in ids}
        assert record_id in planted | set(demo_nights.planted), (run_id, source, record_id, reason)
        # the history's own view shows that kind of change, brought by a load published after the night
        changes = {r[0] for r in con.execute(
            """SELECT c.change FROM core.version_changes c JOIN meta.loads l USING (load_id)
               JOIN meta.runs r ON r.run_id = l.run_id
               WHERE c.source = ? AND c.record_id = ? AND r.finished_at > ?""",
            [source, record_id, published]).fetchall()}
        assert CHANGE_OF[reason] in changes, (run_id, source, record_id, reason, changes)


def test_demo_every_void_of_a_counted_record_is_restated(demo_nights, con):
    """The converse, counted here: a record counted agency-wide in a published period and voided since must be in
    that figure with -1, voided or unfounded."""
    from zoneinfo import ZoneInfo

    nights = {n["run_id"]: n["finished_at"] for n in demo_nights.published}
    zones = dict(con.execute("SELECT agency, timezone FROM marts.agency_zones").fetchall())
    restated = set(con.execute(
        """SELECT run_id, agency, dataset, period, record_id FROM marts.restatement_records
           WHERE unit_type = 'agency' AND category_group = 'all' AND reason = 'voided or unfounded' AND delta = -1"""
    ).fetchall())
    expected = set()
    for run_id in earlier_nights(con):
        periods = con.execute("""SELECT agency, dataset, period, period_start, period_end FROM meta.published_compstat
                                 WHERE run_id = ? AND unit_type = 'agency' AND category_group = 'all'
                                   AND n IS NOT NULL""", [run_id]).fetchall()
        voided = con.execute(
            """SELECT 'calls', t.agency, t.call_id, t.event_at FROM core.calls_as_known_at(?) t
               JOIN core.calls c USING (source, call_id) WHERE t.is_countable AND NOT t.is_void AND c.is_void
               UNION ALL
               SELECT 'incidents', t.agency, t.incident_id, t.event_at FROM core.incidents_as_known_at(?) t
               JOIN core.incidents c USING (source, incident_id) WHERE NOT t.is_void AND c.is_void""",
            [nights[run_id], nights[run_id]]).fetchall()
        for dataset, agency, rid, at in voided:
            day = at.astimezone(ZoneInfo(zones[agency])).date()
            expected |= {(run_id, agency, dataset, p, rid) for a, ds, p, s, e in periods
                         if (a, ds) == (agency, dataset) and s <= day <= e}
    assert expected and expected == restated


def test_demo_late_older_extract_restates_nothing(demo_nights, con):
    """Against the night before the last, every record restated has its current version from the last night's
    regular extracts: the late, older metro extract of that night restates nothing."""
    last, before = demo_nights.published[-1], demo_nights.published[-2]
    late = demo_nights.manifest["nights"][-1]["late_extract"]
    late_load = con.execute("SELECT load_id FROM meta.loads WHERE path LIKE ?",
                            [f"%/{late['file'].rsplit('/', 1)[-1]}"]).fetchone()[0]
    regular = {r[0] for r in con.execute("SELECT load_id FROM meta.loads WHERE run_id = ? AND load_id <> ?",
                                         [last["run_id"], late_load]).fetchall()}
    records = con.execute("SELECT DISTINCT dataset, source, record_id FROM marts.restatement_records WHERE run_id = ?",
                          [before["run_id"]]).fetchall()
    assert records
    for dataset, source, rid in records:
        table, key = ("core.call_versions", "call_id") if dataset == "calls" else \
            ("core.incident_versions", "incident_id")
        loads = {r[0] for r in con.execute(f"SELECT load_id FROM {table} WHERE source = ? AND {key} = ? "
                                           "AND ended_load_id IS NULL", [source, rid]).fetchall()}
        assert loads and loads <= regular, (source, rid, loads)


def test_demo_report_shows_the_restated_figures(demo_nights, con):
    page = Path(demo_nights.published[-1]["report"]).read_text(encoding="utf-8")
    part = page.split('<section id="restatements">', 1)[1].split("</section>", 1)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", part))
    assert "the oldest night kept" in text  # the demo's nights are minutes apart
    assert re.search(r"Calls for service, violent, agency-wide, last 7 days: \d+ → \d+[^.]*reclassified from ",
                     text), text[:2000]
    assert "voided or unfounded" in text and "disposition changed (" in text and "CAN, not counted" in text
    # a planted call is listed when a figure it moved is listed: one that moved by 1 or more (the demo's own
    # planted changes of night 6 may cancel one of this test's in a figure)
    listed = {r for r, in con.execute(
        """SELECT DISTINCT r.record_id FROM marts.restatement_records r
           JOIN marts.restatements f USING (run_id, agency, unit_type, unit_id, dataset, category_group, period)
           WHERE r.run_id = ? AND r.unit_type IN ('agency', 'district') AND abs(f.change) >= 1""",
        [demo_nights.published[0]["run_id"]]).fetchall()}
    assert len(listed & set(demo_nights.planted)) >= 3
    for rid in demo_nights.planted:
        assert (rid in text) == (rid in listed), rid
