"""Polars helpers shared by the marts computed in Python."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl


def groups(df: pl.DataFrame, keys: list[str]) -> Iterator[tuple[tuple, pl.DataFrame]]:
    """(key values, rows) per distinct key, in ascending key order, each group's rows in the frame's order;
    rows with a null key are left out."""
    if df.is_empty():
        return
    parts = df.drop_nulls(keys).partition_by(keys, as_dict=True, maintain_order=True)
    for key in sorted(parts):
        yield key, parts[key]
