"""Outage days of a feed: days its extract does not carry the agency's usual volume.

Input: `n`, the events of one source per local day over its period (every day, zero days included, in date
order). `typical` is the median count of the last `window` (28) days before a day that were not outages
themselves. A day is an outage when

- it lies in a run of days with no events over which `typical` expects at least `floor` (5) events
  ('no events'); by the Poisson law such a run happens by chance with probability e^-5, under 1 %. A feed
  with 5 or more events a day is out on any day without one; a feed with 2 a day only after 3 empty days
  in a row, so a sparse feed's ordinary empty days are not outages. Before there is a typical (no earlier
  day that counts) every empty day is one;
- or its count is below `share` (20 %) of `typical` and `typical` is at least `floor` ('far below typical').

Leaving the outage days out of the reference keeps a lasting break flagged: a feed that stops, or that keeps
delivering a fifth of its volume (a partial extract, a sample thinned to a few events a day), is an outage
until its volume comes back, instead of becoming the new "typical" after four weeks. The thresholds (20 %,
5 events, 28 days) are this project's choice, not a published standard.
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
    i = 0
    while i < counts.size:
        t = float(np.median(ref)) if ref else np.nan
        typical[i] = t
        if counts[i] == 0:
            end = i
            while end + 1 < counts.size and counts[end + 1] == 0:
                end += 1
            if not ref or (end - i + 1) * t >= floor:  # the whole run of empty days is an outage
                typical[i:end + 1] = t
                outage[i:end + 1] = True
                reason[i:end + 1] = [NO_EVENTS] * (end - i + 1)
                i = end + 1
                continue
        elif ref and t >= floor and counts[i] < share * t:
            outage[i] = True
            reason[i] = FAR_BELOW
            i += 1
            continue
        ref.append(counts[i])
        i += 1
    return typical, outage, reason
