"""Outage days of a feed: days its extract does not carry the agency's usual volume.

Input: `n`, the events of one source per local day over its period (every day, zero days included, in date
order). A day is an outage when

- it has no events ('no events'), or
- its count is below `share` (20 %) of `typical` and `typical` is at least `floor` (5) ('far below typical').

`typical` is the median count of the last `window` (28) days before it that were not outages themselves.
Leaving the outage days out of the reference keeps a lasting break flagged: a feed that stops, or that keeps
delivering a fifth of its volume (a partial extract, a sample thinned to a few events a day), is an outage
until its volume comes back, instead of becoming the new "typical" after four weeks. The floor keeps the
ordinary quiet days of a sparse feed (a few events a day) from being flagged; a sparse feed's zero days are
still outages. The thresholds are this project's choice, not a published standard.
"""

from __future__ import annotations

from collections import deque

import numpy as np

NO_EVENTS = "no events"
FAR_BELOW = "far below typical"


def outage_days(n, window: int = 28, share: float = 0.2, floor: float = 5.0
                ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """(typical, is_outage, reason) per day of `n` (daily counts in date order). typical is NaN where there
    is no earlier non-outage day; reason is None on a day that is not an outage."""
    counts = np.asarray(n, dtype=float)
    if counts.ndim != 1:
        raise ValueError("n must be one count per day")
    if (counts < 0).any() or np.isnan(counts).any():
        raise ValueError("daily counts must be non-negative numbers")
    ref: deque[float] = deque(maxlen=window)
    typical = np.full(counts.size, np.nan)
    outage = np.zeros(counts.size, dtype=bool)
    reason: list[str | None] = [None] * counts.size
    for i, x in enumerate(counts):
        if ref:
            typical[i] = float(np.median(ref))
        if x == 0:
            reason[i] = NO_EVENTS
        elif ref and typical[i] >= floor and x < share * typical[i]:
            reason[i] = FAR_BELOW
        else:
            ref.append(x)
            continue
        outage[i] = True
    return typical, outage, reason
