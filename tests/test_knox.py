"""The Knox test (transforms/stats/knox.py) and `sara near-repeat` (flows/cli/near_repeat.py).

Correctness is checked three ways: against a brute-force O(n^2) count written independently here
(ties on band edges included), against a brute-force permutation test using the documented random
scheme, and against published reference tables for Chicago burglaries in 2016.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from flows.cli.near_repeat import near_repeat
from tests.conftest import make_project
from transforms.stats.knox import band_labels, knox, knox_test, parse_edges, period_mask
from transforms.warehouse.events_csv import parse_dates, read_events_csv

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BURGLARY = SHARED / "chicago_burglary_2014_2017.csv"
COLUMNS = ["space_lo", "space_hi", "time_lo", "time_hi", "observed", "expected_mean", "expected_median",
           "knox_ratio", "p_value", "z", "p_note"]


# ---------------------------------------------------------------------------------------------
# An independent brute force
# ---------------------------------------------------------------------------------------------


def _band(d: np.ndarray, edges, closed: str) -> np.ndarray:
    """Band by definition: [a, b) counts the edges <= d; (a, b] (first band [0, b]) the edges < d."""
    k = np.zeros(d.shape, dtype=np.int64)
    for e in edges[1:]:
        k += (d >= e) if closed == "left" else (d > e)
    return k


def brute_table(x, y, t, space_edges, time_edges, closed="left", metric="manhattan") -> np.ndarray:
    """Observed counts (space bands x time bands, open-ended bands included), from every pair."""
    i, j = np.triu_indices(len(x), 1)
    dx, dy = np.abs(x[i] - x[j]), np.abs(y[i] - y[j])
    ds = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    dt = np.abs(t[i] - t[j])
    out = np.zeros((len(space_edges), len(time_edges)), dtype=np.int64)
    np.add.at(out, (_band(ds, space_edges, closed), _band(dt, time_edges, closed)), 1)
    return out


def _observed(table: pl.DataFrame, n_sb: int, n_tb: int) -> np.ndarray:
    return table["observed"].to_numpy().reshape(n_sb, n_tb)


def _tied_events(n: int = 300, seed: int = 7):
    """Integer coordinates and whole days in small ranges: many distances exactly on the edges."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, n).astype(float)
    y = rng.integers(0, 40, n).astype(float)
    t = rng.integers(0, 60, n).astype(float)
    return x, y, t


SPACE = [0, 1, 5, 10, 20]  # 5 and 10 and 20 are Euclidean distances of integer points (3-4-5 etc.)
TIME = [0, 1, 3, 7, 14]


@pytest.mark.parametrize("metric", ["manhattan", "euclidean"])
@pytest.mark.parametrize("closed", ["left", "right"])
def test_observed_matches_brute_force_with_ties(metric, closed):
    x, y, t = _tied_events()
    want = brute_table(x, y, t, SPACE, TIME, closed, metric)
    got = knox_test(x, y, t, SPACE, TIME, closed=closed, metric=metric, perms=0)
    assert got.columns == COLUMNS
    assert got.height == len(SPACE) * len(TIME)
    np.testing.assert_array_equal(_observed(got, len(SPACE), len(TIME)), want)
    # ties really happen on every edge, so both closings are exercised
    i, j = np.triu_indices(len(x), 1)
    dx, dy = np.abs(x[i] - x[j]), np.abs(y[i] - y[j])
    ds = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    for e in SPACE:
        assert np.any(ds == e), e
    for e in TIME:
        assert np.any(np.abs(t[i] - t[j]) == e), e


@pytest.mark.parametrize("closed", ["left", "right"])
def test_fractional_days_match_brute_force(closed):
    """Times of day (fractional days, here exact quarters so ties on edges happen) take the float path."""
    rng = np.random.default_rng(3)
    n = 250
    x, y = rng.uniform(0, 300, n), rng.uniform(0, 300, n)
    t = rng.integers(0, 40 * 4, n) / 4.0
    space, time_ = [0, 25, 50.5, 100], [0, 0.5, 1.25, 3, 7.75]
    want = brute_table(x, y, t, space, time_, closed, "euclidean")
    got = knox_test(x, y, t, space, time_, closed=closed, metric="euclidean", perms=0)
    np.testing.assert_array_equal(_observed(got, len(space), len(time_)), want)


@pytest.mark.parametrize("closed", ["left", "right"])
def test_long_time_span_matches_brute_force(closed):
    """Whole days spanning more than 32,767 days take the int32 path."""
    x, y, _ = _tied_events(n=200, seed=2)
    t = np.random.default_rng(2).integers(0, 60, 200).astype(float)
    t[:3] = [0.0, 40_000.0, 40_007.0]
    want = brute_table(x, y, t, SPACE, TIME, closed)
    got = knox_test(x, y, t, SPACE, TIME, closed=closed, perms=0)
    np.testing.assert_array_equal(_observed(got, len(SPACE), len(TIME)), want)


def test_open_ended_bands_present_and_consistent():
    x, y, t = _tied_events(n=280, seed=11)
    tab = knox_test(x, y, t, SPACE, TIME, perms=19, seed=1)
    assert tab.filter(pl.col("space_hi").is_infinite()).height == len(TIME)
    assert tab.filter(pl.col("time_hi").is_infinite()).height == len(SPACE)
    last = tab.row(-1, named=True)
    assert last["space_lo"] == SPACE[-1] and last["time_lo"] == TIME[-1]
    # space-major order
    assert tab["space_lo"].to_list()[: len(TIME)] == [0.0] * len(TIME)
    assert tab["time_lo"].to_list()[: len(TIME)] == [float(v) for v in TIME]
    # per time band, the sum over all space bands = all pairs with that time distance (brute force)
    i, j = np.triu_indices(len(t), 1)
    per_time = np.bincount(_band(np.abs(t[i] - t[j]), TIME, "left"), minlength=len(TIME))
    np.testing.assert_array_equal(_observed(tab, len(SPACE), len(TIME)).sum(axis=0), per_time)
    assert int(tab["observed"].sum()) == len(t) * (len(t) - 1) // 2
    # the same holds in every permutation, so the expected counts sum to the same totals
    exp = tab["expected_mean"].to_numpy().reshape(len(SPACE), len(TIME)).sum(axis=0)
    np.testing.assert_allclose(exp, per_time)


def test_distance_exactly_on_the_largest_edge_counted_once():
    # two events 10 m apart (3-4-5 triangle scaled), same day; a third far away
    x = np.array([0.0, 6.0, 1000.0])
    y = np.array([0.0, 8.0, 1000.0])
    t = np.array([5.0, 5.0, 5.0])
    for closed, want_band in (("left", 2), ("right", 1)):  # [10, inf) vs (5, 10]
        tab = knox_test(x, y, t, [0, 5, 10], [0, 7], closed=closed, metric="euclidean", perms=0)
        obs = _observed(tab, 3, 2)
        assert obs.sum() == 3
        assert obs[want_band, 0] == 1 + (2 if want_band == 2 else 0), (closed, obs)
    # a distance of exactly 0 is in the first band for both closings, also with a tiny first edge
    tab = knox_test(np.zeros(2), np.zeros(2), np.array([0.0, 0.0]), [0, 0.1, 200], [0, 7], closed="right",
                    perms=0)
    assert _observed(tab, 3, 2)[0, 0] == 1


# ---------------------------------------------------------------------------------------------
# The permutation null model
# ---------------------------------------------------------------------------------------------


def test_permutations_match_brute_force_null_model():
    """expected, median, p and z equal a brute-force permutation test drawn the documented way:
    rng = numpy.random.default_rng(seed); permutation r gives event e the time t[rng.permutation(n)][e]."""
    x, y, t = _tied_events(n=120, seed=5)
    perms, seed = 60, 42
    tab = knox_test(x, y, t, SPACE, TIME, closed="right", metric="euclidean", perms=perms, seed=seed)
    obs = brute_table(x, y, t, SPACE, TIME, "right", "euclidean")
    rng = np.random.default_rng(seed)
    sims = np.stack([brute_table(x, y, t[rng.permutation(len(t))], SPACE, TIME, "right", "euclidean")
                     for _ in range(perms)])
    mean, sd = sims.mean(axis=0), sims.std(axis=0, ddof=1)
    p = ((sims >= obs).sum(axis=0) + 1) / (perms + 1)

    def col(name):
        return tab[name].to_numpy().reshape(obs.shape)

    np.testing.assert_array_equal(col("observed"), obs)
    np.testing.assert_allclose(col("expected_mean"), mean)
    np.testing.assert_allclose(col("expected_median"), np.median(sims, axis=0))
    closed_cells = np.s_[:-1, :-1]  # the open bands have no p and no z (tests/unit/test_knox_open_bands.py)
    np.testing.assert_allclose(col("p_value")[closed_cells], p[closed_cells])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (obs - mean) / sd, np.nan)
        ratio = obs / mean
    np.testing.assert_allclose(col("z")[closed_cells], z[closed_cells], equal_nan=True)
    finite = mean > 0
    np.testing.assert_allclose(col("knox_ratio")[finite], ratio[finite])


def test_p_values_reproducible_and_in_range():
    x, y, t = _tied_events(n=200, seed=9)
    perms = 99
    a = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=123)
    b = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=123)
    assert a.equals(b)
    # the batch size (how permutations are grouped for the kernel) does not change anything
    c = knox(x, y, t, SPACE, TIME, perms=perms, seed=123, batch=7).table
    assert a.equals(c)
    p = a["p_value"].to_numpy().reshape(len(SPACE), len(TIME))[:-1, :-1]
    assert np.all(p >= 1 / (perms + 1)) and np.all(p <= 1)
    d = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=124)
    assert not np.allclose(a["expected_mean"].to_numpy(), d["expected_mean"].to_numpy())
    np.testing.assert_array_equal(a["observed"].to_numpy(), d["observed"].to_numpy())


def test_degenerate_inputs():
    tab = knox_test([0.0, 1.0], [0.0, 0.0], [0.0, 3.0], [0, 5], [0, 7], perms=0)
    assert tab["observed"].to_list() == [1, 0, 0, 0]
    assert tab["p_value"].is_nan().all()
    tab = knox_test([0.0, 1.0], [0.0, 0.0], [0.0, 3.0], [0, 5], [0, 7], perms=1, seed=0)
    assert tab["z"].is_nan().all()  # one permutation: no sd
    tab = knox_test([], [], [], [0, 5], [0, 7], perms=3, seed=0)
    assert tab["observed"].sum() == 0
    with pytest.raises(ValueError, match="first edge must be 0"):
        knox_test([0.0], [0.0], [0.0], [1, 5], [0, 7])
    with pytest.raises(ValueError, match="increase strictly"):
        parse_edges("0,7,7")
    with pytest.raises(ValueError, match="comma list"):
        parse_edges("0,a", "--time-bands")
    with pytest.raises(ValueError, match=r"t\[1\]"):
        knox_test([0.0, 1.0], [0.0, 0.0], [0.0, np.nan], [0, 5], [0, 7])


def test_band_labels():
    assert band_labels([0, 1, 100], "left") == ["[0, 1)", "[1, 100)", "[100, inf)"]
    assert band_labels([0, 0.1, 200], "right", "m") == ["[0, 0.1] m", "(0.1, 200] m", "(200, inf) m"]


# ---------------------------------------------------------------------------------------------
# Reference results: Chicago residential burglaries, 2016
# ---------------------------------------------------------------------------------------------

REF_RIGHT = [[342, 97, 62], [1892, 1514, 1362], [4145, 3643, 3592], [5805, 5143, 4919]]
REF_LEFT = [[319, 106, 62], [1647, 1539, 1400], [3598, 3660, 3638], [5028, 5167, 4935]]


@pytest.fixture(scope="module")
def burglary_2016():
    if not BURGLARY.is_file():
        pytest.skip(f"reference data not available: {SHARED} is absent (it sits beside the checkout in CI)")
    ev = read_events_csv(BURGLARY, x="x", y="y", date="date_single")
    assert not ev.has_time
    keep = period_mask(ev.t, "2016-01-01", "2016-12-31")
    return ev.x[keep], ev.y[keep], ev.t[keep]


@pytest.mark.shared
@pytest.mark.parametrize(("closed", "want"), [("right", REF_RIGHT), ("left", REF_LEFT)])
def test_reference_chicago_burglary_2016(burglary_2016, closed, want):
    x, y, t = burglary_2016
    assert len(t) == 11_701
    space, time_ = [0, 0.1, 200, 400, 600], [0, 7, 14, 21]
    tab = knox_test(x, y, t, space, time_, closed=closed, metric="euclidean", perms=9, seed=1)
    obs = _observed(tab, len(space), len(time_))
    np.testing.assert_array_equal(obs[:-1, :-1], np.array(want))  # the finite bands
    assert int(obs.sum()) == len(t) * (len(t) - 1) // 2


@pytest.mark.shared
def test_reference_through_the_cli(burglary_2016, tmp_path):
    out = tmp_path / "knox.csv"
    res = _invoke([str(BURGLARY), "--since", "2016-01-01", "--until", "2016-12-31", "--closed", "right",
                   "--metric", "euclidean", "--space-bands", "0,0.1,200,400,600", "--perms", "19", "--seed", "1",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "11,701 events" in res.text
    obs = pl.read_csv(out)["observed"].to_numpy().reshape(5, 4)
    np.testing.assert_array_equal(obs[:-1, :-1], np.array(REF_RIGHT))


# ---------------------------------------------------------------------------------------------
# Dates and files
# ---------------------------------------------------------------------------------------------


def test_date_detection_refuses_ambiguous_column():
    with pytest.raises(ValueError) as exc:
        parse_dates(["01/02/2016", "03/04/2016", "12/11/2016"])
    msg = str(exc.value)
    assert "'%d/%m/%Y'" in msg and "'%m/%d/%Y'" in msg and "--date-format" in msg


def test_date_detection_accepts_unambiguous_column():
    days, has_time = parse_dates(["01/02/2016", "13/04/2016"])  # 13 can only be a day
    assert not has_time
    assert days.tolist() == [(datetime(2016, 2, 1) - datetime(1970, 1, 1)).days,
                             (datetime(2016, 4, 13) - datetime(1970, 1, 1)).days]
    days, has_time = parse_dates(pl.Series(["2016-01-01 06:00", "2016-01-02 18:30"]))
    assert has_time
    np.testing.assert_allclose(days - days[0], [0, 1.5 + 0.5 / 24])
    days, _ = parse_dates(["10/31/2019 11:40:00 AM", "10/31/2019 11:40:00 PM"])
    assert days[1] - days[0] == pytest.approx(0.5)
    # candidates that agree on every value are not ambiguous
    days, _ = parse_dates(["01/01/2016", "05/05/2016"])
    assert days[1] - days[0] == 125
    # a given format wins; a value that does not match it is named
    days, _ = parse_dates(["01/02/2016"], "%m/%d/%Y")
    assert days[0] == (datetime(2016, 1, 2) - datetime(1970, 1, 1)).days
    with pytest.raises(ValueError, match="row 2"):
        parse_dates(["01/02/2016", "2016-02-01"], "%d/%m/%Y")
    with pytest.raises(ValueError, match="could not recognise"):
        parse_dates(["someday", "never"])
    with pytest.raises(ValueError, match="row 2: no date"):
        parse_dates(["2016-01-01", ""])


def test_read_events_csv_formats(tmp_path):
    calc = tmp_path / "calc.csv"
    calc.write_text("100.5,200,13/01/2016\n101,200.25,14/01/2016\n\n150,260,20/02/2016\n")
    ev = read_events_csv(calc)
    assert ev.x.tolist() == [100.5, 101.0, 150.0] and ev.y.tolist() == [200.0, 200.25, 260.0]
    assert (ev.t - ev.t[0]).tolist() == [0.0, 1.0, 38.0] and not ev.has_time
    hdr = tmp_path / "hdr.csv"
    hdr.write_text("id,East,North,When\n1,1,2,2016-01-01 10:00\n2,3,4,2016-01-03 22:00\n")
    ev = read_events_csv(hdr, x="East", y="north", date="When")
    assert ev.x.tolist() == [1.0, 3.0] and ev.has_time
    assert ev.t[1] - ev.t[0] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="which column is X"):
        read_events_csv(hdr)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,2016-01-01\n1,abc,2016-01-02\n")
    with pytest.raises(ValueError, match=r"bad\.csv line 2, column Y \(column 2\): 'abc' is not a number"):
        read_events_csv(bad)
    (tmp_path / "b2.csv").write_text("1,2,2016-01-01\n1,2,2016-13-45\n")
    with pytest.raises(ValueError, match=r"b2\.csv line 2, column date \(column 3\): '2016-13-45'"):
        read_events_csv(tmp_path / "b2.csv")
    with pytest.raises(ValueError, match="no header row"):
        read_events_csv(calc, x="x")


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def _invoke(args: list[str], **kw):
    """`near-repeat` on a throwaway app with a second command, registered as flows/cli/__init__.py will."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("near-repeat")(near_repeat)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(app, ["near-repeat", *args], **kw)
    res.text = " ".join(res.output.split())  # whitespace-normalized: immune to Rich's line wrapping
    return res


def _calc_csv(path: Path, n: int = 120, seed: int = 1) -> Path:
    """A headerless file in the Near Repeat Calculator's format: X, Y, date (dd/mm/yyyy, some day > 12)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2000, n).round(1)
    y = rng.uniform(0, 2000, n).round(1)
    d = np.datetime64("2016-01-13") + rng.integers(0, 90, n)
    lines = [f"{a},{b},{str(c)[8:10]}/{str(c)[5:7]}/{str(c)[:4]}" for a, b, c in zip(x, y, d, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_headerless_calculator_file(tmp_path):
    src = _calc_csv(tmp_path / "events.csv")
    out = tmp_path / "out" / "knox.csv"
    res = _invoke([str(src), "--perms", "49", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "120 events" in res.text and "Knox test" in res.text
    tab = pl.read_csv(out)
    assert tab.columns == COLUMNS and tab.height == 5 * 4
    ev = read_events_csv(src)
    want = knox_test(ev.x, ev.y, ev.t, [0, 1, 100, 200, 300], [0, 7, 14, 21], perms=49, seed=3)
    np.testing.assert_array_equal(tab["observed"].to_numpy(), want["observed"].to_numpy())
    np.testing.assert_allclose(tab["p_value"].to_numpy(), want["p_value"].to_numpy())


def test_cli_help_and_errors(tmp_path):
    res = _invoke(["--help"], env={"COLUMNS": "120"})
    assert res.exit_code == 0
    for words in ("null model", "open-ended", "--date-format", "EXAMPLES", "Near Repeat"):
        assert words in res.text, words
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,13/01/2016\n3,x,14/01/2016\n")
    res = _invoke([str(bad)])
    assert res.exit_code == 2
    assert "line 2" in res.text and "column Y" in res.text
    amb = tmp_path / "amb.csv"
    amb.write_text("1,2,01/02/2016\n3,4,02/03/2016\n")
    res = _invoke([str(amb), "--perms", "9"])
    assert res.exit_code == 2 and "ambiguous" in res.text
    res = _invoke([str(amb), "--perms", "9", "--date-format", "%d/%m/%Y"])
    assert res.exit_code == 0, res.output
    res = _invoke([str(amb), "--space-bands", "5,10"])
    assert res.exit_code == 2 and "first edge must be 0" in res.text
    res = _invoke([str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "missing.csv" in res.text


WH_TOML = """
sources = ["city_calls"]
[agencies.city]
name = "City Police"
timezone = "America/Chicago"
crs = "EPSG:26971"
bbox = [-87.95, 41.64, -87.52, 42.03]
"""

WH_SOURCE = """
name: city_calls
kind: calls
agency: city
format: csv
record_id: [CallNo]
update_mode: upsert
timezone: America/Chicago
timestamps:
  received_at: {columns: [Received], formats: ["%Y-%m-%d %H:%M"]}
columns:
  call_type_code: Nature
coordinates: {x: Lon, y: Lat, crs: "EPSG:4326"}
crosswalks:
  call_types: config/crosswalks/city_call_types.csv
"""


def test_cli_warehouse_mode_uses_local_days(tmp_path):
    from transforms.config import load_settings
    from transforms.warehouse import db as wh

    proj = make_project(tmp_path, WH_TOML, {"city_calls": WH_SOURCE},
                        {"city_call_types.csv": "code,call_type,call_category\nB,Burglary,Burglary\n"})
    cfg = proj / "config" / "sara.toml"
    settings = load_settings(cfg, proj)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = wh.connect(settings.warehouse_path)
    wh.apply_schema(con)
    rows = [  # id, event_at (UTC), category, x, y, located, void
        ("a", datetime(2016, 1, 1, 3, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, False),  # local Dec 31
        ("b", datetime(2016, 1, 7, 20, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, False),  # local Jan 7
        ("c", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, True),  # void
        ("d", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Burglary", None, None, False, False),  # not located
        ("e", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Theft", 1000.0, 1000.0, True, False),  # other category
        ("f", datetime(2016, 3, 1, 12, 0, tzinfo=UTC), "Burglary", 5000.0, 5000.0, True, False),
    ]
    for rid, at, cat, x, y, located, void in rows:
        con.execute(
            "INSERT INTO core.incidents (incident_id, source, agency, event_at, time_precision, offense_category, "
            "origin, is_void, x, y, is_located, load_id) VALUES (?, 'city_calls', 'city', ?, 'exact', ?, "
            "'community', ?, ?, ?, ?, 'l')", [rid, at, cat, void, x, y, located])
    con.close()

    out = tmp_path / "wh.csv"
    res = _invoke(["--config", str(cfg), "--category", "burglary", "--perms", "9", "--seed", "1",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 events from 2015-12-31 to 2016-03-01" in res.text
    obs = pl.read_csv(out)["observed"].to_numpy().reshape(5, 4)
    # a and b: same place, local dates Dec 31 and Jan 7 -> 7 days apart ([7, 14)); in UTC it would be 6
    assert obs[0].tolist() == [0, 1, 0, 0]
    assert obs.sum() == 3
    res = _invoke(["--config", str(cfg), "--category", "arson", "--perms", "9"])
    assert res.exit_code == 2 and "Burglary" in res.text
    res = _invoke(["--config", str(cfg), "--perms", "9"])  # every category: the theft too
    assert res.exit_code == 0 and "4 events from 2015-12-31 to 2016-03-01" in res.text, res.output
    res = _invoke(["--config", str(cfg), "--since", "2016-01-05", "--perms", "9"])  # local dates
    assert res.exit_code == 0 and "2 events from 2016-01-07 to 2016-03-01" in res.text, res.output
    res = _invoke(["--config", str(cfg), "--agency", "elsewhere"])
    assert res.exit_code == 2 and "city" in res.text
