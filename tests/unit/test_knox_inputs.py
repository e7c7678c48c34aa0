"""The Knox test's inputs (transforms/stats/knox.py, transforms/warehouse/events_csv.py): band edges and
labels, degenerate inputs, date detection and the event files `sara near-repeat` reads."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest

from transforms.stats.knox import band_labels, knox_test, parse_edges
from transforms.warehouse.events_csv import parse_dates, read_events_csv


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
