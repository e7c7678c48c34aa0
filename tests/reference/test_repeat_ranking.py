"""The 80/20 table of marts.repeat_location_rows against hand computation, ties included.

The ranking is kept per count (marts.repeat_place_ranks, sql/marts/repeat_location_rows.sql): a place's rank,
cumulative shares and is_repeat depend on its count alone. The expected values below are worked out by hand
from the counts; the report's "X % of locations hold 80 % of events" is checked against a count over the
places sorted one by one.
"""

from __future__ import annotations

import math
from fractions import Fraction

import duckdb
import pytest

from transforms.marts.models import run_model
from transforms.outputs.report.places import share_at

# one agency, calls, category group all, origin all: 6 places with events in the repeat window, one without
COUNTS = {"A ST": 5, "B ST": 3, "C ST": 3, "D ST": 1, "E ST": 1, "F ST": 1, "G ST": 0}


@pytest.fixture()
def con():
    c = duckdb.connect()
    c.execute("CREATE SCHEMA marts")
    c.execute("CREATE TABLE marts.location_labels (agency VARCHAR, location_key VARCHAR, location_label VARCHAR)")
    c.execute("INSERT INTO marts.location_labels VALUES ('city', 'D ST', 'near D street')")
    c.execute("""CREATE TABLE marts.repeat_places (agency VARCHAR, dataset VARCHAR, category_group VARCHAR,
                 origin VARCHAR, location_key VARCHAR, address_block VARCHAR, n_7d BIGINT, n_repeat_window BIGINT,
                 n_not_countable BIGINT, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, first_seen_local TIMESTAMP,
                 last_seen_local TIMESTAMP, distinct_days BIGINT, x DOUBLE, y DOUBLE, lon DOUBLE, lat DOUBLE)""")
    for key, n in COUNTS.items():
        c.execute("INSERT INTO marts.repeat_places VALUES ('city', 'calls', 'all', 'all', ?, NULL, 0, ?, 1, NULL, "
                  "NULL, NULL, NULL, 1, NULL, NULL, NULL, NULL)", [key, n])
    run_model(c, "repeat_location_rows", repeat_min_events=3)
    yield c
    c.close()


def test_ties_share_rank_and_cumulative_shares(con):
    rows = {k: (r, Fraction(e).limit_denominator(1000), Fraction(p).limit_denominator(1000), rep, label, all_n)
            for k, r, e, p, rep, label, all_n in con.execute(
                "SELECT location_key, rank, cum_share_events, cum_share_locations, is_repeat, location_label, "
                "n_repeat_window_all FROM marts.repeat_location_rows").fetchall()}
    # 14 events at 6 places (G ST has none in the repeat window: not a row). Sorted 5, 3, 3, 1, 1, 1:
    # A: 5 of 14 events at 1 of 6 places; B and C: at least 3 events: 11 of 14 at 3 of 6; the rest: all.
    assert rows == {
        "A ST": (1, Fraction(5, 14), Fraction(1, 6), True, "A ST", 6),
        "B ST": (2, Fraction(11, 14), Fraction(1, 2), True, "B ST", 4),
        "C ST": (2, Fraction(11, 14), Fraction(1, 2), True, "C ST", 4),
        "D ST": (4, Fraction(1), Fraction(1), False, "near D street", 2),
        "E ST": (4, Fraction(1), Fraction(1), False, "E ST", 2),
        "F ST": (4, Fraction(1), Fraction(1), False, "F ST", 2),
    }
    assert con.execute("SELECT count(*) FROM marts.repeat_place_ranks").fetchone()[0] == 3  # one row per count


@pytest.mark.parametrize("counts", [[5, 3, 3, 1, 1, 1], [10], [2, 2, 2, 2], [40, 9, 9, 9, 1, 1, 1, 1, 1, 1],
                                    [7, 5, 5, 5, 5, 2, 1, 1]])
def test_share_of_places_holding_80_percent(counts):
    total, n = sum(counts), len(counts)
    # by hand: the first k places (most events first) whose events reach 80 % of the total
    running, k = 0, 0
    for c in sorted(counts, reverse=True):
        running += c
        k += 1
        if 5 * running >= 4 * total:
            break
    # the curve as the ranking table gives it: one point per count
    curve = []
    for value in sorted(set(counts), reverse=True):
        at_least = [c for c in counts if c >= value]
        curve.append((len(at_least) / n, sum(at_least) / total))
    assert math.isclose(share_at(0.8, curve, n), k / n)
    assert share_at(0.8, [], 0) is None
