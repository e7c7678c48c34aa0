"""marts.demand and marts.demand_alternative_by_hour: what the calls ask for (their standard nature) and who
could answer them (the nature's response model), per agency, analysis window, origin, hour of week and
district; and the share of community-generated calls an alternative responder could take, by local hour of
day. The set logic is in sql/marts/demand.sql; the natures and response models are on core.calls
(transforms/warehouse/natures.py, config/taxonomy/README.md).
"""

from __future__ import annotations

import duckdb

from transforms.marts.models import run_model
from transforms.warehouse.natures import taxonomy_version


def build_demand(con: duckdb.DuckDBPyConnection) -> int:
    """marts.demand and its view; returns the number of marts.demand rows."""
    run_model(con, "demand", taxonomy_version=taxonomy_version())
    return con.execute("SELECT count(*) FROM marts.demand").fetchone()[0]
