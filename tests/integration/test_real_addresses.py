"""Addresses of the real feeds in ../shared/data come out as blocks or intersections."""

from __future__ import annotations

import polars as pl
import pytest

from tests.support.project import need_shared
from transforms.stats.address import block_address, clean_address


@pytest.mark.shared
def test_real_feeds_come_out_as_blocks_or_intersections():
    data = need_shared()
    sf = pl.read_csv(data / "sf_police_calls_2016_2020.csv", columns=["address"], infer_schema_length=0)
    van = pl.read_csv(data / "vancouver_crimes_2020.csv", columns=["HUNDRED_BLOCK"], infer_schema_length=0)
    for s in (sf["address"].unique(), van["HUNDRED_BLOCK"].unique()):
        out = block_address(s).drop_nulls()
        assert clean_address(s).len() == s.len()
        ok = out.str.contains(r"^\d+ BLOCK ") | out.str.contains(" / ", literal=True)
        assert ok.mean() >= 0.95, out.filter(~ok).head(20).to_list()
