"""Every version kept (core.call_versions, core.incident_versions): hand-made loads of one incidents feed, then
the demo's nights through the real nightly flow, replayed with core.calls_as_known_at."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.demo_nights import KEPT_CALLS, KEPT_INCIDENTS
from transforms.warehouse import loader

FEED = r"""
name: feed
kind: incidents
agency: city
timezone: America/Chicago
format: csv
file_pattern: "x_*.csv"
record_id: [id]
update_mode: {mode}
extract_at: {{filename_pattern: 'x_(\d{{8}})', format: '%Y%m%d'}}
timestamps:
  occurred_from: {{columns: [when], formats: ["%Y-%m-%d %H:%M"]}}{updated}
columns: {{offense_code: what, address: where}}
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
void: {{column: status, values: [DELETED]}}
"""
HEAD = "id,when,what,where,lon,lat,status\n"
A = "A,2016-05-01 10:00,THEFT,100 N STATE ST,-87.6277,41.8822,\n"
B = "B,2016-05-01 11:30,BURGLARY,1200 W MADISON ST,-87.6584,41.8815,\n"
C = "C,2016-05-02 09:15,THEFT,100 N STATE ST,-87.6277,41.8822,\n"


class Feed:
    def __init__(self, tiny_project, root: Path, mode: str = "upsert", updated: bool = False):
        yaml = FEED.format(mode=mode, updated="\n  updated_at: {columns: [upd], formats: ['%Y-%m-%d %H:%M']}"
                           if updated else "")
        p = tiny_project({"feed": yaml}, city="chicago", root=root)
        self.head = HEAD.rstrip("\n") + (",upd\n" if updated else "\n")
        self.settings, self.con = p.settings, p.connect()
        self.landing = self.settings.source_landing("feed")
        self.landing.mkdir(parents=True, exist_ok=True)

    def load(self, day: str, *rows: str):
        path = self.landing / f"x_{day}.csv"
        path.write_text(self.head + "".join(rows))
        raw = loader.load_raw_file(self.con, self.settings, "feed", path, "r")
        assert raw.status == "raw", raw.message
        (out,) = loader.normalize_pending(self.con, self.settings, "feed", "r")
        assert out.status == "loaded", out.message
        return out

    def versions(self, rid: str) -> list[tuple]:
        """(version_seq, offense_code, is_void, valid_from, valid_to, load day, ending load day) of a record."""
        return self.con.execute(
            """SELECT version_seq, offense_code, is_void, valid_from, valid_to, l.path[-12:-5], e.path[-12:-5]
               FROM core.incident_versions v JOIN meta.loads l USING (load_id)
               LEFT JOIN meta.loads e ON e.load_id = v.ended_load_id
               WHERE incident_id = ? ORDER BY version_seq""", [rid]).fetchall()

    def n_versions(self) -> int:
        return self.con.execute("SELECT count(*) FROM core.incident_versions").fetchone()[0]

    def current(self) -> list[tuple]:
        return self.con.execute("SELECT * EXCLUDE (load_id, source_row) FROM core.incidents ORDER BY 1").fetchall()


def _utc(day: int) -> datetime:  # the extract time of x_201605DD (midnight in Chicago, CDT)
    return datetime(2016, 5, day, 5, tzinfo=UTC)


def test_update_adds_one_version_identical_redelivery_none_and_void_one(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A, B, C)
    assert f.n_versions() == 3
    assert f.versions("A") == [(1, "THEFT", False, _utc(3), None, "20160503", None)]
    # the next extract: A reclassified, B and C re-delivered unchanged (a newer extract time, same content)
    f.load("20160504", A.replace("THEFT", "ROBBERY"), B, C)
    assert f.n_versions() == 4
    assert f.versions("A") == [(1, "THEFT", False, _utc(3), _utc(4), "20160503", "20160504"),
                               (2, "ROBBERY", False, _utc(4), None, "20160504", None)]
    assert f.versions("B") == [(1, "BURGLARY", False, _utc(3), None, "20160503", None)]
    # B voided: one version more
    f.load("20160505", B.replace(",\n", ",DELETED\n"))
    assert f.n_versions() == 5
    assert [v[1:3] for v in f.versions("B")] == [("BURGLARY", False), ("BURGLARY", True)]
    # what changed, per kind, between consecutive current versions
    assert f.con.execute("SELECT record_id, change, old_value, new_value FROM core.version_changes ORDER BY 1, 2"
                         ).fetchall() == [("A", "reclassified", "Unmapped: THEFT", "Unmapped: ROBBERY"),
                                          ("B", "voided or unfounded", "false", "true")]
    # core holds the current versions, as before
    assert f.con.execute("SELECT list(offense_code || ':' || is_void ORDER BY incident_id) FROM core.incidents"
                         ).fetchone()[0] == ["ROBBERY:false", "BURGLARY:true", "THEFT:false"]


def test_late_older_extract_is_superseded_at_arrival_and_changes_nothing_current(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A, B)
    f.load("20160510", A.replace("THEFT", "ROBBERY"), B)
    current = f.current()
    n = f.n_versions()
    # the extract of 5 May arrives late: A's version then (THEFT -> BURGLARY, never seen) is kept superseded;
    # B's version then is the one already kept: nothing
    out = f.load("20160505", A.replace("THEFT", "BURGLARY"), B)
    assert (out.rows_loaded, out.rows_duplicate) == (0, 2)
    assert f.current() == current
    assert f.n_versions() == n + 1
    assert f.versions("A")[-1] == (3, "BURGLARY", False, _utc(5), _utc(10), "20160505", "20160505")
    # never current, so no change: A went from theft to robbery
    assert f.con.execute("SELECT record_id, change, old_value, new_value FROM core.version_changes").fetchall() == \
        [("A", "reclassified", "Unmapped: THEFT", "Unmapped: ROBBERY")]
    # ... and it was never the version known: as known now, A is the robbery
    known = f.con.execute("SELECT offense_code FROM core.incidents_as_known_at(now()) WHERE incident_id = 'A'"
                          ).fetchall()
    assert known == [("ROBBERY",)]


def test_a_feed_with_its_own_version_time_keeps_each_version_it_stamped(tiny_project, tmp_path):
    """With an updated_at column, a new version time is a new version even when no kept field changed (a status
    closed, say); the same version re-sent in a later extract adds nothing."""
    f = Feed(tiny_project, tmp_path / "p", updated=True)
    a1 = A.replace(",\n", ",,2016-05-02 08:00\n")
    f.load("20160503", a1)
    f.load("20160504", a1, B.replace(",\n", ",,2016-05-02 09:00\n"))  # A re-sent as it was
    assert [v[:2] for v in f.versions("A")] == [(1, "THEFT")]
    f.load("20160505", A.replace(",\n", ",,2016-05-04 08:00\n"))  # stamped again, nothing kept changed
    got = f.versions("A")
    assert [v[:2] for v in got] == [(1, "THEFT"), (2, "THEFT")]
    assert got[1][3] == datetime(2016, 5, 4, 13, tzinfo=UTC)  # valid_from: its own version time (CDT)


def test_replace_window_dropping_a_record_ends_its_version(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p", mode="replace_window")
    f.load("20160503", A, B, C)
    # a newer refresh of 1 May without B: B's version ends at the new extract's time; C (2 May) is untouched
    f.load("20160510", A)
    assert f.versions("B") == [(1, "BURGLARY", False, _utc(3), _utc(10), "20160503", "20160510")]
    assert f.versions("C") == [(1, "THEFT", False, _utc(3), None, "20160503", None)]
    assert f.versions("A") == [(1, "THEFT", False, _utc(3), None, "20160503", None)]  # identical: kept as is
    assert f.con.execute("SELECT count(*) FROM core.incidents_as_known_at(now())").fetchone()[0] == 2


def test_an_existing_warehouse_seeds_its_history_from_the_current_rows(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A, B)
    f.con.execute("DELETE FROM core.incident_versions")  # a warehouse made before the history existed
    f.load("20160504", A.replace("THEFT", "ROBBERY"), B)
    assert [v[:2] for v in f.versions("A")] == [(1, "THEFT"), (2, "ROBBERY")]
    assert [v[:2] for v in f.versions("B")] == [(1, "BURGLARY")]


# ------------------------------------------------------------------------------------------------ the demo

def _night_loads(con, night: dict) -> dict[str, str]:
    """source -> load_id of a night's regular extract of each source (its file in the manifest)."""
    out = {}
    for source, entry in night.items():
        if isinstance(entry, dict) and "updated_records" in entry:
            name = entry["file"].rsplit("/", 1)[-1]
            out[source] = con.execute("SELECT load_id FROM meta.loads WHERE source = ? AND path LIKE ?",
                                      [source, f"%/{name}"]).fetchone()[0]
    return out


def test_demo_each_planted_update_is_exactly_one_new_version(demo_nights):
    from transforms.warehouse.db import connect

    con = connect(demo_nights.warehouse, read_only=True)
    try:
        n_updates = n_changed = 0
        for night in demo_nights.manifest["nights"]:
            for source, load_id in _night_loads(con, night).items():
                table, id_col = (("core.incident_versions", "incident_id") if source.endswith("incidents")
                                 else ("core.call_versions", "call_id"))
                planted = sorted(i for ids in night[source].get("updated_by_first_night", {}).values() for i in ids)
                # the load's versions of records delivered on an earlier night: one per planted update
                got = [r[0] for r in con.execute(
                    f"SELECT {id_col} FROM {table} WHERE load_id = ? AND version_seq > 1 ORDER BY 1",
                    [load_id]).fetchall()]
                assert got == planted, (night["night"], source)
                # and each new record of the load is one first version (less the records quarantined whole)
                n_first, n_quarantined = con.execute(
                    f"""SELECT count(*), (SELECT rows_quarantined FROM meta.loads WHERE load_id = ?)
                        FROM {table} WHERE load_id = ? AND version_seq = 1""", [load_id, load_id]).fetchone()
                new = night[source]["new_records"]
                assert new - n_quarantined <= n_first <= new, (night["night"], source)
                n_updates += len(planted)
                # what core.version_changes says the load changed is about planted updates only
                changed = {r[0] for r in con.execute(
                    "SELECT record_id FROM core.version_changes WHERE load_id = ?", [load_id]).fetchall()}
                assert changed <= set(planted), (night["night"], source)
                n_changed += len(changed)
        assert n_updates > 20  # nights 2..6 plant updates in every feed
        assert n_changed > 10  # and most change a disposition or a category
        # every version but the current one of a record has ended, and the current one is core's
        assert con.execute("""SELECT count(*) FROM core.call_versions v JOIN core.calls c USING (source, call_id)
                              WHERE v.ended_load_id IS NULL""").fetchone()[0] == \
            con.execute("SELECT count(*) FROM core.calls").fetchone()[0]
    finally:
        con.close()


def test_demo_late_older_extract_changes_nothing_newer(demo_nights):
    from transforms.warehouse.db import connect

    late = demo_nights.manifest["nights"][-1]["late_extract"]
    con = connect(demo_nights.warehouse, read_only=True)
    try:
        name = late["file"].rsplit("/", 1)[-1]
        load_id, read, loaded, dup = con.execute(
            "SELECT load_id, rows_read, rows_loaded, rows_duplicate FROM meta.loads WHERE path LIKE ?",
            [f"%/{name}"]).fetchone()
        assert (read, loaded, dup) == (late["rows"], 0, late["rows"])
        # its versions are ones already kept (each an earlier delivery of the call): nothing is current from it,
        # and anything it added ended at arrival
        assert con.execute("SELECT count(*) FROM core.call_versions WHERE load_id = ? AND "
                           "ended_load_id IS DISTINCT FROM load_id", [load_id]).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM core.calls WHERE load_id = ?", [load_id]).fetchone()[0] == 0
        stale = late["stale_calls"]
        assert len(stale) >= 3
        # the stale calls keep versions newer than the late extract's (its LastUpdatedDT, Riverton local time)
        late_version: dict[str, datetime] = {}
        with open(demo_nights.city / late["file"], encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                t = datetime.strptime(row["LastUpdatedDT"], "%m/%d/%Y %I:%M:%S %p").replace(
                    tzinfo=ZoneInfo("America/Los_Angeles"))
                late_version[row["CallNumber"]] = max(t, late_version.get(row["CallNumber"], t))
        assert sorted(late_version) == sorted(late["stale_calls"])
        current = dict(con.execute("SELECT call_id, version_at FROM core.calls WHERE source = 'demo_metro_calls' "
                                   "AND call_id IN (SELECT unnest(?))", [sorted(late_version)]).fetchall())
        assert sorted(current) == sorted(late_version)
        assert all(current[c] > late_version[c] for c in current)
    finally:
        con.close()


def test_demo_replaying_history_to_each_night_equals_what_that_night_published(demo_nights):
    from transforms.warehouse.db import connect

    con = connect(demo_nights.warehouse, read_only=True)
    try:
        assert len(demo_nights.published) == 6
        for k, night in enumerate(demo_nights.published, start=1):
            ts = night["finished_at"]
            calls = sorted(con.execute(f"SELECT {', '.join(KEPT_CALLS)} FROM core.calls_as_known_at(?)",
                                       [ts]).fetchall(), key=repr)
            incidents = sorted(con.execute(f"SELECT {', '.join(KEPT_INCIDENTS)} FROM core.incidents_as_known_at(?)",
                                           [ts]).fetchall(), key=repr)
            assert calls == night["calls"], k
            assert incidents == night["incidents"], k
        # the nights differ (else the replay would prove nothing)
        assert demo_nights.published[0]["calls"] != demo_nights.published[2]["calls"]
    finally:
        con.close()


def test_sara_query_as_known_at_shows_a_past_night(demo_nights):
    from typer.testing import CliRunner

    from flows.cli import app

    def count(when: str, sql: str) -> int:
        res = CliRunner().invoke(app, ["query", "--config", str(demo_nights.config), "--csv", "--as-known-at", when,
                                       sql])
        assert res.exit_code == 0, res.output
        return int(res.output.strip().splitlines()[-1])

    night1, night6 = demo_nights.published[0], demo_nights.published[-1]
    n1 = count(night1["finished_at"].isoformat(), "SELECT count(*) FROM calls")
    assert n1 == len(night1["calls"]) < len(night6["calls"])
    assert count(night1["finished_at"].isoformat(), "SELECT count(*) FROM incidents") == len(night1["incidents"])
    # a date: the end of that day (UTC)
    assert count("2999-01-01", "SELECT count(*) FROM calls") == len(night6["calls"])
    assert count("2000-01-01", "SELECT count(*) FROM calls") == 0
    bad = CliRunner().invoke(app, ["query", "--config", str(demo_nights.config), "--as-known-at", "yesterday",
                                   "SELECT 1"])
    assert bad.exit_code != 0 and "give a date" in bad.output


def test_sara_status_counts_the_last_nights_changes_by_kind(demo_nights):
    from typer.testing import CliRunner

    from flows.cli import app
    from transforms.warehouse.db import connect
    from transforms.warehouse.versions import changes_last_night

    con = connect(demo_nights.warehouse, read_only=True)
    try:
        rows = changes_last_night(con).rows
        night6 = demo_nights.manifest["nights"][-1]
        planted = {i for source, entry in night6.items() if isinstance(entry, dict)
                   for ids in entry.get("updated_by_first_night", {}).values() for i in ids}
        changed = {r[0] for r in con.execute(
            """SELECT record_id FROM core.version_changes v JOIN meta.loads l USING (load_id)
               WHERE l.run_id = ?""", [demo_nights.published[-1]["run_id"]]).fetchall()}
        assert rows and all(n > 0 for _, _, n in rows)
        assert changed and changed <= planted
        assert sum(n for _, _, n in rows) >= len(changed)  # a record can change in more than one way
    finally:
        con.close()
    res = CliRunner().invoke(app, ["status", "--config", str(demo_nights.config)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "records changed in the last night" in res.output


def test_as_known_at_on_a_warehouse_without_history_says_why():
    """A warehouse an earlier sara wrote has no as-known-at macros: a clear error, not a DuckDB catalog error."""
    import duckdb

    from transforms.warehouse.versions import define_known_at

    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    with pytest.raises(ValueError, match="no version history yet"):
        define_known_at(con, datetime(2026, 11, 18, tzinfo=UTC))
