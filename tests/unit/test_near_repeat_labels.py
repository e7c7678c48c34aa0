"""Near-repeat labels and chains on hand-placed events (metres, days)."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.stats.near_repeat_labels import label_events

D, T = 100.0, 7.0


def _run(events, d=D, t=T):
    """events: (x, y, t_days, location_key) tuples -> {index: (label, chain_id, n_in_chain)}."""
    x, y, days, key = (list(c) for c in zip(*events, strict=True))
    df = label_events(np.array(x, float), np.array(y, float), np.array(days, float), key, d, t)
    assert df.columns == ["event_index", "label", "chain_id", "n_in_chain"]
    assert df["event_index"].to_list() == list(range(len(events)))
    return {i: (lab, c, k) for i, lab, c, k in df.iter_rows()}


def test_chain_of_three_50m_2days_apart():
    r = _run([(0, 0, 0, "A"), (50, 0, 2, "B"), (100, 0, 4, "C")])
    assert r == {0: ("originator", 1, 3), 1: ("near_repeat", 1, 3), 2: ("near_repeat", 1, 3)}


def test_same_address_repeat():
    r = _run([(0, 0, 0, "12 MAIN ST"), (0, 0, 3, "12 MAIN ST")])
    assert r == {0: ("originator", 1, 2), 1: ("repeat", 1, 2)}


def test_repeat_beats_near_repeat_and_needs_t():
    # event 2 is both within D of event 1 and at event 0's address: repeat wins.
    # event 3 at the same address but 8 days after event 2: not a repeat, nothing else near: isolated
    r = _run([(0, 0, 0, "A"), (60, 0, 1, "B"), (0, 0, 5, "A"), (0, 0, 13, "A")])
    assert r[0] == ("originator", 1, 3)
    assert r[1] == ("near_repeat", 1, 3)
    assert r[2] == ("repeat", 1, 3)
    assert r[3] == ("isolated", 2, 1)


def test_null_keys_never_repeat():
    r = _run([(0, 0, 0, None), (0, 0, 1, None)])
    assert r == {0: ("originator", 1, 2), 1: ("near_repeat", 1, 2)}


def test_just_beyond_d_or_t_is_isolated():
    r = _run([(0, 0, 0, "A"), (100.001, 0, 1, "B"), (0, 50, 7.001, "C")])
    assert r == {0: ("isolated", 1, 1), 1: ("isolated", 2, 1), 2: ("isolated", 3, 1)}


def test_exactly_d_and_t_are_within():
    r = _run([(0, 0, 0, "A"), (60, 80, 7, "B")])  # distance 100, 7 days
    assert r == {0: ("originator", 1, 2), 1: ("near_repeat", 1, 2)}


def test_two_separate_chains_numbered_by_earliest_event():
    # chain 1 starts at day 0 (far east, listed last); chain 2 starts at day 1
    r = _run([(0, 0, 1, "A"), (0, 40, 3, "B"), (5000, 0, 0, "C"), (5030, 0, 0.5, "D")])
    assert r[2] == ("originator", 1, 2) and r[3] == ("near_repeat", 1, 2)
    assert r[0] == ("originator", 2, 2) and r[1] == ("near_repeat", 2, 2)


def test_transitivity_joins_a_b_c():
    # A-B 80 m, B-C 80 m, A-C 160 m (> D): A and C not linked, still one chain
    r = _run([(0, 0, 0, "A"), (80, 0, 1, "B"), (160, 0, 2, "C")])
    assert {c for _, c, _ in r.values()} == {1}
    assert [r[i][0] for i in range(3)] == ["originator", "near_repeat", "near_repeat"]
    assert all(k == 3 for _, _, k in r.values())


def test_transitivity_through_time():
    # same place, days 0, 6, 12: 0-12 is beyond T, yet one chain through day 6
    r = _run([(0, 0, 0, "A"), (10, 0, 6, "B"), (20, 0, 12, "C")])
    assert r == {0: ("originator", 1, 3), 1: ("near_repeat", 1, 3), 2: ("near_repeat", 1, 3)}


def test_ties_in_time_ordered_by_index():
    # same instant: the lower index is earlier
    r = _run([(0, 0, 5, "X"), (0, 0, 5, "X"), (30, 0, 5, "Y")])
    assert r == {0: ("originator", 1, 3), 1: ("repeat", 1, 3), 2: ("near_repeat", 1, 3)}
    # input order does not follow time: index 0 is later than index 1
    r = _run([(0, 0, 2, "X"), (40, 0, 1, "Y")])
    assert r == {0: ("near_repeat", 1, 2), 1: ("originator", 1, 2)}


def test_datetime_input_and_missing_coordinates():
    t = np.array(["2024-01-01T00:00", "2024-01-03T00:00", "2024-01-04T00:00"], dtype="datetime64[us]")
    x = np.array([0.0, np.nan, 50.0])
    df = label_events(x, np.zeros(3), t, ["A", "A", "B"], D, 2.0)
    # event 1 has no coordinates but repeats A (2 days); event 2 is 3 days after event 0: too late
    assert df["label"].to_list() == ["originator", "repeat", "isolated"]
    assert df["chain_id"].to_list() == [1, 1, 2]


def test_no_key_and_empty_input():
    df = label_events([0, 10], [0, 0], [0, 1], None, D, T)
    assert df["label"].to_list() == ["originator", "near_repeat"]
    assert label_events([], [], [], None, D, T).height == 0


def test_bad_input():
    with pytest.raises(ValueError):
        label_events([0, 1], [0], [0, 1], None, D, T)
    with pytest.raises(ValueError):
        label_events([0], [0], [np.nan], None, D, T)
