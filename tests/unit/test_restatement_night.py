"""Which published night the report's "Restated since last week's report" compares with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from transforms.outputs.report.restatements import pick_night


def _nights(*days_ago: float) -> list[tuple]:
    now = datetime(2026, 12, 7, 3, tzinfo=UTC)
    return [(f"r{d}", now - timedelta(days=d)) for d in days_ago]


def test_the_latest_night_a_week_or_more_before():
    nights = _nights(0, 1, 2, 6.9, 7, 8)
    assert pick_night(nights) == (nights[4], True)


def test_without_a_week_of_nights_the_oldest_kept_and_says_so():
    nights = _nights(0, 1, 3)
    assert pick_night(nights) == (nights[2], False)


def test_no_earlier_night():
    assert pick_night(_nights(0)) == (None, False)
    assert pick_night([]) == (None, False)
