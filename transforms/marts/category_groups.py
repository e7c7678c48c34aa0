"""Which configured category groups the data cannot fill.

A category group names call or offence categories (`[analysis.category_groups]`, merged with the defaults in
transforms/config/settings.py). A group whose categories occur nowhere in an agency's events is empty in every
mart of that agency: usually a category spelt differently from the crosswalk, or a crosswalk without that
breakdown. `unmatched_groups` lists them, and marts.mart_status says so (mart `category_groups`, status.py) instead
of showing zeros.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.marts.models import read_model


def unmatched_groups(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """agency, dataset, category_group, categories (list): each configured group none of whose categories occurs
    among the agency's events of that dataset in marts.events (after marts.events and marts.category_groups
    are built; see sql/marts/inputs/unmatched_category_groups.sql)."""
    return read_model(con, "inputs/unmatched_category_groups")
