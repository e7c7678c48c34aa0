"""The hour-of-week profile and the kernel densities on the four real feeds, recomputed event by event.

The marts count point events per slot in SQL and weigh each point of the KDE by its events
(sql/marts/inputs/temporal_slots.sql, grid_points.sql). Here every event of the window is taken one by one
instead: its local time from Polars' own time-zone database (not DuckDB's ICU, nor the marts' day table), then
the aoristic profile of all of them at once (transforms.stats.aoristic) and the quartic kernel over every event
with weight 1 (transforms.stats.kde). The real feeds have what a synthetic city lacks: incident windows across
DST changes, dates without a time, thousands of events on one block point.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from transforms.config import load_settings
from transforms.marts.periods import agency_ends
from transforms.marts.units import cell_centres
from transforms.stats.aoristic import exact_profile
from transforms.stats.kde import quartic_kde

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def settings(real):
    return load_settings(real.proj / "config" / "sara.toml", project_dir=real.proj)


def _local(col: str, zone: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(zone).dt.replace_time_zone(None)


def test_profile_equals_the_aoristic_profile_of_every_event(real_con, settings):
    con = real_con
    days = settings.sara.analysis.repeat_window_days
    zones = dict(con.execute("SELECT agency, timezone FROM marts.agency_zones").fetchall())
    checked = 0
    for agency, end in agency_ends(con).items():
        ev = con.execute("""SELECT dataset, category_group, time_precision, beat, event_at, occurred_to
                            FROM marts.event_dims WHERE agency = ? AND origin_dim = 'all'
                            AND local_date BETWEEN ? AND ?""",
                         [agency, end - timedelta(days=days - 1), end]).pl()
        ev = ev.with_columns(_local("event_at", zones[agency]).alias("start"),
                             _local("occurred_to", zones[agency]).alias("end"))
        for (dataset,), g in ev.group_by(["dataset"]):
            for unit_type, key in (("agency", None), ("beat", "beat")):
                sub = g if key is None else g.filter(pl.col(key).is_not_null())
                if sub.is_empty():
                    continue
                unit = pl.lit(agency) if key is None else pl.col(key).cast(pl.String)
                k = sub.select(pl.concat_str([pl.col("category_group"), unit], separator="|")).to_series()
                want = exact_profile(sub["start"].to_numpy(), sub["time_precision"].to_numpy(),
                                     end=sub["end"].to_numpy(), key=k.alias("k")).profile
                got = con.execute("""SELECT category_group || '|' || unit_id AS k, slot, weight
                                     FROM marts.temporal_profile WHERE agency = ? AND dataset = ? AND unit_type = ?""",
                                  [agency, dataset, unit_type]).pl()
                both = want.join(got, on=["k", "slot"], how="full", coalesce=True, suffix="_mart")
                assert both.height == want.height == got.height, (agency, dataset, unit_type)
                np.testing.assert_allclose(both["weight_mart"].to_numpy(), both["weight"].to_numpy(),
                                           rtol=1e-9, atol=1e-9)
                checked += both.height
                # events without a time of day are left out and counted, per category group and unit
                left = (sub.filter(pl.col("time_precision") != "exact")
                        .group_by(pl.col("category_group").alias("g"), unit.alias("u")).len().rows())
                got_left = con.execute("""SELECT category_group, unit_id, max(n_left_out) FROM marts.temporal_profile
                                          WHERE agency = ? AND dataset = ? AND unit_type = ? GROUP BY 1, 2""",
                                       [agency, dataset, unit_type]).fetchall()
                assert sorted(left) == sorted((c, u, n) for c, u, n in got_left if n), (agency, dataset, unit_type)
    # every agency's and beat's row of the mart was checked
    assert checked == con.execute("SELECT count(*) FROM marts.temporal_profile WHERE unit_type IN "
                                  "('agency', 'beat')").fetchone()[0] > 0


def test_kde_equals_the_kernel_over_every_event(real_con, settings):
    con = real_con
    an = settings.sara.analysis
    w = max(an.kde_windows_days)
    checked = 0
    for agency, end in agency_ends(con).items():
        ev = con.execute("""SELECT e.dataset, e.x, e.y FROM marts.event_dims e
                            JOIN marts.event_units g USING (dataset, source, event_id)
                            WHERE g.unit_type = 'grid' AND g.unit_id IS NOT NULL AND e.is_located
                            AND e.agency = ? AND e.category_group = 'all' AND e.origin_dim = 'all'
                            AND e.local_date BETWEEN ? AND ?""",
                         [agency, end - timedelta(days=w - 1), end]).pl()
        cells = con.execute("SELECT unit_id, ix, iy FROM marts.units WHERE unit_type = 'grid' AND agency = ? "
                            "ORDER BY unit_id", [agency]).pl()
        cx, cy = cell_centres(cells, settings, agency)
        for (dataset,), g in ev.group_by(["dataset"]):
            want = quartic_kde(g["x"].to_numpy(), g["y"].to_numpy(), cx, cy, an.kde_bandwidth_m, unit="km2")
            got = con.execute("""SELECT unit_id, density_km2, events FROM marts.kde_rows WHERE agency = ?
                                 AND dataset = ? AND category_group = 'all' AND origin = 'all'
                                 AND window_days = ? ORDER BY unit_id""", [agency, dataset, w]).pl()
            assert got["unit_id"].to_list() == cells["unit_id"].to_list()
            assert set(got["events"].to_list()) == {g.height}
            # many events share a point on these feeds: the marts weigh each point by its events
            assert g.select(pl.struct("x", "y").n_unique()).item() < g.height
            np.testing.assert_allclose(got["density_km2"].to_numpy(), want, rtol=1e-9, atol=1e-12)
            checked += 1
    assert checked >= 4
