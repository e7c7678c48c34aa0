"""The agency's own located history, by normalized location key (`names.parse_frame`'s `key`).

A key located before takes the median x and y of its located occurrences. Its precision is their spread:
the 90th percentile of their distances from that median, at least `MIN_PRECISION_M` (one event, or all at
one point, says nothing finer than a building's size).
"""

from __future__ import annotations

import polars as pl

from transforms.warehouse.geocode.names import parse_frame

MIN_PRECISION_M = 10.0


def learn_history(located: pl.DataFrame) -> pl.DataFrame:
    """key, hx, hy, h_events, h_precision_m: one row per normalized key with located events."""
    addr = located.select(pl.col("address").cast(pl.Utf8)).unique()
    keys = parse_frame(addr["address"]).select(address="text", key="key").drop_nulls("key")
    ev = (located.filter(pl.col("x").is_finite() & pl.col("y").is_finite())
          .join(keys, on="address", how="inner"))
    med = ev.group_by("key").agg(hx=pl.col("x").median(), hy=pl.col("y").median(), h_events=pl.len())
    spread = (ev.join(med, on="key").with_columns(d=((pl.col("x") - pl.col("hx")) ** 2
                                                      + (pl.col("y") - pl.col("hy")) ** 2).sqrt())
              .group_by("key").agg(s=pl.col("d").quantile(0.9, "linear")))
    return med.join(spread, on="key").select(
        "key", "hx", "hy", "h_events", h_precision_m=pl.max_horizontal(pl.col("s"), pl.lit(MIN_PRECISION_M)))
