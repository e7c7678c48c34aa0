"""The life of a call: call types (some retired, some reclassified), dispositions, responding units and
their timeline, and the version of each call that an extract taken at a given instant shows."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from transforms.demo.codes import (
    CALL_TYPE_CODES,
    DISPOSITION_INDEX,
    DISPOSITIONS,
    OFFICER_TYPES,
    RECLASSIFIED_AS,
    TYPE_INDEX,
    TYPE_P_ARREST,
    TYPE_P_INCIDENT,
    TYPE_PRIORITY,
)
from transforms.demo.patterns import Origin, RawCalls
from transforms.demo.text import SENTINEL_TIME, sequence_numbers
from transforms.demo.timeframe import DAY0_NAIVE_S, N_NIGHTS, Clock, utc_to_naive


class CallVersion(NamedTuple):
    """The fields of selected calls that change between versions, as seen at one instant."""
    idx: np.ndarray  # the calls (indexes)
    final_type: np.ndarray  # call-type index (the initial type until the reclassification is entered)
    disposition: np.ndarray  # disposition index, -1 until entered
    last_updated: np.ndarray  # UTC epoch seconds


class Calls:
    """Calls with units, timelines and dispositions; can render the version seen at any instant.

    Call arrays are sorted by received time; unit arrays (unit_*) hold one entry per responding unit.
    Times are UTC epoch seconds; -1 means "not (yet) happened".
    """

    def __init__(self, rng, raw: RawCalls, clock: Clock, prefix: str, *, metro: bool):
        self.clock = clock
        order = np.lexsort((np.arange(len(raw)), raw.received))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        raw = raw.take(order)
        self.raw = raw
        self.duplicate_of = np.where(raw.duplicate_source >= 0, inverse[np.maximum(raw.duplicate_source, 0)], -1)
        n = self.n = len(raw)
        received = raw.received
        self.received_naive = utc_to_naive(received)
        self.day = (self.received_naive - DAY0_NAIVE_S) // 86400
        self.number = np.array(sequence_numbers(prefix, self.received_naive), dtype=object)

        # ---- call types: a few retired codes, ~5% reclassified
        initial_type = raw.call_type.copy()
        community = ~raw.on_view & (initial_type != TYPE_INDEX["BURG"]) & (raw.origin != Origin.DUPLICATE)
        if metro:
            initial_type[community & (rng.random(n) < 0.005 / max(community.mean(), 1e-9))] = TYPE_INDEX["XYZ9"]
        final_type = initial_type.copy()
        eligible = ~np.isin(initial_type, [TYPE_INDEX[t] for t in ("BURG", "XYZ9", *OFFICER_TYPES)])
        reclassified = eligible & (rng.random(n) < 0.05 / max(eligible.mean(), 1e-9))
        for t in np.unique(initial_type[reclassified]):
            m = reclassified & (initial_type == t)
            targets = [TYPE_INDEX[x] for x in RECLASSIFIED_AS.get(CALL_TYPE_CODES[t], ["DIST", "SUSP"])
                       if TYPE_INDEX[x] != t]
            final_type[m] = np.array(targets)[rng.integers(0, len(targets), m.sum())]
        self.initial_type, self.final_type, self.reclassified = initial_type, final_type, reclassified
        priority = TYPE_PRIORITY[initial_type]

        # ---- dispositions (and whether an RMS report is written)
        dup = raw.origin == Origin.DUPLICATE
        r = rng.random(n)
        void = ~dup & (r < 0.001)
        cancelled = ~dup & ~void & (r < 0.021)
        incident = ~dup & ~void & ~cancelled & (rng.random(n) < TYPE_P_INCIDENT[final_type])
        arrest = incident & (rng.random(n) < TYPE_P_ARREST[final_type])
        index = DISPOSITION_INDEX
        other = rng.choice([index[x] for x in ("HAN", "ADV", "GOA", "UTL", "UNF", "REF", "NR", "CIT")], n,
                           p=[.32, .22, .10, .10, .08, .05, .10, .03])
        traffic_stop = rng.choice([index[x] for x in ("CIT", "ADV", "ARR", "HAN")], n, p=[.45, .40, .03, .12])
        disposition = np.where(final_type == TYPE_INDEX["TS"], traffic_stop, other)
        disposition = np.where(incident, np.where(arrest, index["ARR"], index["RPT"]), disposition)
        disposition[cancelled], disposition[void], disposition[dup] = index["CAN"], index["VOID"], index["DUP"]
        self.disposition, self.has_incident = disposition, incident

        # ---- units
        extra_units = {"E": 2.2, "1": 1.2, "2": 0.65, "3": 0.4, "4": 0.15, "5": 0.1}  # Poisson mean, by priority
        lam = np.array([extra_units[p] for p in priority])
        on_view = raw.on_view
        lam[on_view] = np.where(initial_type[on_view] == TYPE_INDEX["TS"], 0.3, 0.15)
        n_units = 1 + np.minimum(rng.poisson(lam), 3)
        self.clear_sentinel = cancelled & (rng.random(n) < (0.15 if metro else 0.0))
        zero = dup | (cancelled & ~self.clear_sentinel & (rng.random(n) < 0.5)) | \
            ((initial_type == TYPE_INDEX["911HU"]) & (rng.random(n) < 0.3))
        n_units[zero] = 0
        total_units = int(n_units.sum())
        unit_call = np.repeat(np.arange(n), n_units)
        unit_order = np.arange(total_units) - np.repeat(np.cumsum(n_units) - n_units, n_units)

        # ---- call timeline (UTC epoch seconds)
        entered = received + np.where(on_view, rng.integers(3, 30, n), rng.integers(10, 91, n))
        queue_median_s = {"E": 45, "1": 90, "2": 240, "3": 600, "4": 1200, "5": 1800}
        queue = np.array([queue_median_s[p] for p in priority]) * rng.lognormal(0, 0.8, n)
        queue = np.clip(queue, np.where(priority == "E", 20, 30), 3600).astype(np.int64)
        queue[on_view] = rng.integers(0, 20, on_view.sum())
        first_dispatch = entered + queue
        lag = np.where(unit_order > 0, rng.integers(20, 420, total_units), 0)
        u_dispatched = first_dispatch[unit_call] + lag
        u_on_view = on_view[unit_call]
        u_enroute = u_dispatched + np.where(u_on_view, 0, rng.integers(5, 90, total_units))
        travel = np.clip(rng.lognormal(math.log(360), 0.45, total_units), 180, 900).astype(np.int64)
        u_onscene = u_enroute + np.where(u_on_view, 0, travel)
        duration = np.clip(rng.lognormal(math.log(1500), 0.5, total_units), 600, 3600)
        reported = np.isin(disposition, [DISPOSITION_INDEX["ARR"], DISPOSITION_INDEX["RPT"]])
        long_call = reported[unit_call] & (unit_order == 0)
        duration = duration + np.where(long_call, rng.integers(900, 3600, total_units), 0)
        duration = np.where(unit_order > 0, duration * rng.uniform(0.4, 1.0, total_units), duration).astype(np.int64)
        u_cleared = u_onscene + duration
        # secondary units cancelled en route; cancelled calls never arrive
        unit_cancelled = ((unit_order > 0) & (rng.random(total_units) < 0.06) & ~u_on_view) | cancelled[unit_call]
        u_cleared = np.where(unit_cancelled, u_enroute + rng.integers(60, 600, total_units), u_cleared)
        u_onscene = np.where(unit_cancelled, -1, u_onscene)
        cancelled_at = np.full(n, -1, np.int64)
        first_unit = np.cumsum(n_units) - n_units
        has_units = n_units > 0
        sentinel = self.clear_sentinel
        cancelled_at[sentinel] = u_enroute[first_unit[sentinel]] + rng.integers(60, 600, sentinel.sum())
        u_cleared = np.where(sentinel[unit_call], SENTINEL_TIME, u_cleared)  # rendered as 01/01/1900
        # data-entry error: on-scene before dispatch on ~0.2% of unit rows
        self.onscene_before_dispatch = (u_onscene >= 0) & (rng.random(total_units) < (0.002 if metro else 0.0))
        u_onscene = np.where(self.onscene_before_dispatch, u_dispatched - rng.integers(60, 600, total_units),
                             u_onscene)

        closed_at = np.full(n, -1, np.int64)
        np.maximum.at(closed_at, unit_call, u_cleared)
        closed_at = np.where(sentinel, cancelled_at, closed_at)
        closed_at = np.where(has_units, closed_at, entered + rng.integers(60, 900, n))
        slow = rng.random(n) < 0.15  # report/supervisor review: disposition entered hours to days later
        disposition_at = closed_at + np.where(slow, rng.integers(2 * 3600, 60 * 3600, n), rng.integers(0, 600, n))
        reclassified_at = np.where(reclassified, np.where(rng.random(n) < 0.6, closed_at,
                                                          closed_at + rng.integers(3600, 50 * 3600, n)), -1)
        self.entered_at, self.closed_at, self.disposition_at = entered, closed_at, disposition_at
        self.reclassified_at, self.cancelled_at = reclassified_at, cancelled_at
        self.n_units, self.unit_call, self.unit_order = n_units, unit_call, unit_order
        self.unit_dispatched, self.unit_enroute = u_dispatched, u_enroute
        self.unit_onscene, self.unit_cleared = u_onscene, u_cleared
        self._forced = np.zeros(n, bool)
        # planted restatements (plant_restatements): a disposition entered over an earlier one, the night from
        # which a call held back is first delivered (0: never held), and the calls a late correction touched
        self.late_disposition = np.full(n, -1)
        self.late_disposition_at = np.full(n, -1, np.int64)
        self.held_until = np.zeros(n, int)
        self.corrected = np.zeros(n, bool)

    # ---- make sure every night has updates to calls from each of the 3 days before
    def force_updates(self, rng, per_day: int) -> None:
        clock = self.clock
        used = np.zeros(self.n, bool)
        for k in range(2, N_NIGHTS + 1):
            for days_back in (2, 3, 4):
                day = clock.run_day[k] - days_back
                lo, hi = clock.run_instant[k - 1] + 3600, clock.run_instant[k] - 3600
                eligible = ((self.day == day) & (self.closed_at >= 0) & (self.closed_at < clock.utc_0200[day + 1])
                            & ~used & (self.raw.origin != Origin.DUPLICATE))
                pick = np.sort(rng.choice(np.flatnonzero(eligible), min(per_day, int(eligible.sum())), replace=False))
                self.disposition_at[pick] = rng.integers(lo, hi, len(pick))
                used[pick] = True
        self._forced = used

    def force_stale(self, rng, m: int) -> None:
        """Calls whose disposition is entered after the late extract's stamp (and before night 4)."""
        clock = self.clock
        days = (clock.run_day[2] - 1, clock.run_day[3] - 1)  # 2026-11-16, 2026-11-17
        eligible = (np.isin(self.day, days) & (self.closed_at >= 0) & (self.closed_at < clock.late_instant - 3600)
                    & ~self._forced & (self.raw.origin != Origin.DUPLICATE))
        pick = np.sort(rng.choice(np.flatnonzero(eligible), min(m, int(eligible.sum())), replace=False))
        self.disposition_at[pick] = rng.integers(clock.late_instant + 1800, clock.run_instant[4] - 3600, len(pick))

    def plant_restatements(self, rng, night: int, days: tuple[int, int], exclude: np.ndarray) -> list[dict]:
        """Changes to calls of an earlier week that night `night` delivers, so that the figures published before
        it are restated: two calls reclassified to assault (a disturbance, or else another community call, found
        to be an assault), one voided, and one held back by the CAD export and first delivered that night (a late
        report). The calls are community calls of days[0]..days[1] (day indexes), closed with a countable
        disposition before night 1, without an RMS report and outside every planted pattern and `exclude`.
        Returns one manifest entry per call (the number is filled in by the caller)."""
        clock = self.clock
        index = DISPOSITION_INDEX
        countable = ~np.isin(self.disposition, [index["CAN"], index["DUP"], index["VOID"]])
        is_dup_source = np.zeros(self.n, bool)
        is_dup_source[self.duplicate_of[self.duplicate_of >= 0]] = True
        eligible = ((self.day >= days[0]) & (self.day <= days[1]) & (self.raw.origin == Origin.BACKGROUND)
                    & ~self.raw.on_view & ~self.reclassified & ~self.has_incident & countable & ~self._forced
                    & ~is_dup_source & ~exclude & (self.disposition_at < clock.run_instant[1] - 3600))
        violent = np.isin(self.initial_type, [TYPE_INDEX[t] for t in ("ASLT", "DV", "ROB", "SHOTS", "SEXOFF")])
        lo, hi = clock.run_instant[night - 1] + 3600, clock.run_instant[night] - 3600
        picked: list[dict] = []

        def take(mask: np.ndarray, k: int, prefer: np.ndarray | None = None) -> np.ndarray:
            cand = np.flatnonzero(mask & eligible)
            order = rng.permutation(len(cand))
            if prefer is not None:  # the preferred ones first, in random order
                order = order[np.argsort(~prefer[cand[order]], kind="stable")]
            got = cand[order[:k]]
            eligible[got] = False
            return np.sort(got)

        for i in take(~violent, 2, prefer=self.initial_type == TYPE_INDEX["DIST"]):
            self.final_type[i], self.reclassified[i] = TYPE_INDEX["ASLT"], True
            self.reclassified_at[i] = rng.integers(lo, hi)
            picked.append({"idx": int(i), "change": "reclassified", "from": CALL_TYPE_CODES[self.initial_type[i]],
                           "to": "ASLT"})
        for i in take(~violent, 1):
            self.late_disposition[i], self.late_disposition_at[i] = index["VOID"], rng.integers(lo, hi)
            picked.append({"idx": int(i), "change": "voided", "from": DISPOSITIONS[self.disposition[i]],
                           "to": "VOID"})
        for i in take(~violent, 1):
            self.held_until[i] = night
            picked.append({"idx": int(i), "change": "late report", "from": None, "to": None})
        for entry in picked:
            self.corrected[entry["idx"]] = True
        return picked

    # ---- versions
    def last_updated(self, instant: int) -> np.ndarray:
        """Per call: the latest of its event times at or before instant (-1 if none)."""
        events = np.stack([self.raw.received, self.entered_at, self.disposition_at, self.reclassified_at,
                           self.cancelled_at, self.late_disposition_at], 1)
        lu = np.where(events <= instant, events, -1).max(1)
        unit_events = np.stack([self.unit_dispatched, self.unit_enroute, self.unit_onscene,
                                np.maximum(self.unit_cleared, -1)], 1)
        np.maximum.at(lu, self.unit_call, np.where(unit_events <= instant, unit_events, -1).max(1))
        return lu

    def delivered_by(self, night: int) -> np.ndarray:
        """Calls delivered by a night's regular extract: the backfill, then the previous day plus the
        updated calls of the three days before; a call held back only from its night on, and the calls a late
        correction touched (plant_restatements) on the night it was made."""
        clock = self.clock
        if night == 1:
            regular = self.day <= clock.run_day[1] - 1
        else:
            lu = self.last_updated(clock.run_instant[night])
            run_day = clock.run_day[night]
            regular = (self.day == run_day - 1) | ((self.day >= run_day - 4) & (self.day <= run_day - 2)
                                                   & (lu > clock.run_instant[night - 1]))
            regular |= self.corrected & (lu > clock.run_instant[night - 1])
        return (regular & (self.held_until <= night)) | (self.held_until == night)

    def version_at(self, instant: int, selected: np.ndarray) -> CallVersion:
        """The version fields of the selected calls at an instant."""
        idx = np.flatnonzero(selected)
        return CallVersion(
            idx=idx,
            final_type=np.where(self.reclassified_at[idx] <= instant, self.final_type[idx], self.initial_type[idx]),
            disposition=np.where((self.late_disposition_at[idx] >= 0) & (self.late_disposition_at[idx] <= instant),
                                 self.late_disposition[idx],
                                 np.where(self.disposition_at[idx] <= instant, self.disposition[idx], -1)),
            last_updated=self.last_updated(instant)[idx])
