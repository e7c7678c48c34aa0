"""Every version kept (core.call_versions, core.incident_versions): hand-made loads of one incidents feed, then
the demo's nights through the real nightly flow, replayed with core.calls_as_known_at."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
  occurred_from: {{columns: [when], formats: ["%Y-%m-%d %H:%M"]}}
columns: {{offense_code: what, address: where}}
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
void: {{column: status, values: [DELETED]}}
"""
HEAD = "id,when,what,where,lon,lat,status\n"
A = "A,2016-05-01 10:00,THEFT,100 N STATE ST,-87.6277,41.8822,\n"
B = "B,2016-05-01 11:30,BURGLARY,1200 W MADISON ST,-87.6584,41.8815,\n"
C = "C,2016-05-02 09:15,THEFT,100 N STATE ST,-87.6277,41.8822,\n"


class Feed:
    def __init__(self, tiny_project, root: Path, mode: str = "upsert"):
        p = tiny_project({"feed": FEED.format(mode=mode)}, city="chicago", root=root)
        self.settings, self.con = p.settings, p.connect()
        self.landing = self.settings.source_landing("feed")
        self.landing.mkdir(parents=True, exist_ok=True)

    def load(self, day: str, *rows: str):
        path = self.landing / f"x_{day}.csv"
        path.write_text(HEAD + "".join(rows))
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
    # ... and it was never the version known: as known now, A is the robbery
    known = f.con.execute("SELECT offense_code FROM core.incidents_as_known_at(now()) WHERE incident_id = 'A'"
                          ).fetchall()
    assert known == [("ROBBERY",)]


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
