"""The default slice the report and the export share."""

from __future__ import annotations

from transforms.outputs.slice import Slice, nearest_window


def test_nearest_window_prefers_28_then_the_shorter_on_a_tie():
    assert nearest_window([7, 28, 91, 364]) == 28
    assert nearest_window([7, 30, 90]) == 30
    assert nearest_window([14, 42]) == 14  # both 14 days from 28
    assert nearest_window([364]) == 364


def test_slice_words():
    s = Slice(28, "violent", "community")
    assert s.words("calls") == "calls for service, violent, community-generated, last 28 days"
    assert Slice(7, "all", "all").words("incidents") == "recorded crimes, all categories, every origin, last 7 days"
