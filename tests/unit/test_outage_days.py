"""Outage days of a feed (transforms.stats.coverage.outage_days) on hand-made daily counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transforms.stats.coverage import FAR_BELOW, NO_EVENTS, outage_days


def test_an_empty_day_is_an_outage_where_five_events_were_expected_and_the_first_day_has_no_reference():
    typical, outage, reason = outage_days([10, 0, 11, 12])
    assert math.isnan(typical[0]) and typical[1] == 10.0
    assert outage.tolist() == [False, True, False, False]
    assert reason == [None, NO_EVENTS, None, None]
    # the empty day is not part of the reference: the median of (10, 11) on day 4, not of (10, 0, 11)
    assert typical[3] == pytest.approx(10.5)


def test_a_sparse_feed_is_out_only_after_a_run_of_empty_days_that_chance_hardly_gives():
    """typical 2 a day: one or two empty days are ordinary (2 x 2 = 4 expected events < 5), three in a row
    are an outage (6 expected, e^-6 by chance); the ordinary empty days count in the reference."""
    _, outage, _ = outage_days([2] * 20 + [0, 0] + [2] * 5)
    assert not outage.any()
    typical, outage, reason = outage_days([2] * 20 + [0, 0, 0] + [2] * 5)
    assert outage.tolist() == [False] * 20 + [True] * 3 + [False] * 5
    assert reason[20:23] == [NO_EVENTS] * 3 and typical[22] == 2.0


def test_far_below_typical_needs_a_typical_of_at_least_five():
    # typical 100: 19 is under a fifth, 20 is not
    n = [100] * 10 + [19, 20]
    typical, outage, reason = outage_days(n)
    assert typical[10] == 100 and outage[10] and reason[10] == FAR_BELOW
    assert not outage[11]
    # a sparse feed (typical 4) is never far below typical, however quiet
    _, outage, reason = outage_days([4] * 10 + [1])
    assert not outage[-1] and reason[-1] is None


def test_a_lasting_drop_stays_an_outage_until_the_volume_returns():
    """A feed thinned to a tenth for 60 days: every thin day is an outage (the reference is the last 28 days
    that were not outages, so the thin level never becomes typical), and the first full day is not."""
    n = [200] * 40 + [15] * 60 + [190] * 5
    typical, outage, _ = outage_days(n)
    assert outage[40:100].all() and not outage[100:].any() and not outage[:40].any()
    assert np.all(typical[40:101] == 200)


def test_the_reference_is_the_last_28_days():
    n = list(range(1, 41))  # 1..40, rising: no outage
    typical, outage, _ = outage_days(n)
    assert not outage.any()
    # day 40 (value 40): the 28 days before it are 12..39, median 25.5
    assert typical[39] == pytest.approx(25.5)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        outage_days([1, -1])
    with pytest.raises(ValueError):
        outage_days([[1, 2]])
