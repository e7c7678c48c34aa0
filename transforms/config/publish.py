"""The [publish] section of sara.toml: what the public open-data extract may hold and how it is masked.

The rules that apply it are transforms/stats/masking.py; `sara publish` (transforms/outputs/publish.py) writes
the extract. Unknown keys are an error, so a typo cannot silently publish more.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from transforms.stats.masking import DATASETS, NEVER_PUBLISHED

DEFAULT_COLUMNS: dict[str, list[str]] = {
    "calls": ["call_id", "agency", "event_hour", "call_type", "call_category", "priority",
              "disposition_category", "address_block", "beat", "district", "lon", "lat", "masking_reason"],
    "incidents": ["incident_id", "agency", "event_hour", "offense", "offense_category", "crime_against",
                  "address_block", "beat", "district", "lon", "lat", "masking_reason"],
}


class PublishPolicy(BaseModel):
    """What leaves the warehouse. Unknown fields are an error (a typo must not silently publish more)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_COLUMNS.items()},
        description="per dataset (calls, incidents), the only columns published, in order; `raw_*`, address, "
                    "location_key, x and y can never be listed")
    sensitive_categories: list[str] = Field(
        default_factory=lambda: ["Sexual Offense", "Domestic Violence", "Behavioral Health"],
        description="categories whose rows are sensitive: location generalized (sensitive_location)")
    sensitive_type_patterns: list[str] = Field(
        default_factory=lambda: ["sex", "rape", "sodomy", "fondling", "incest", "molest", "juve", "child abuse",
                                 "domestic"],
        description="a word of the call type / offense starting with one of these (case-insensitive) makes "
                    "the row sensitive")
    # unmapped codes (call_type_code / offense_code, compared case-insensitively) published like mapped ones
    safe_unmapped_codes: dict[str, list[str]] = Field(
        default_factory=dict, description="per dataset, unmapped codes (case-insensitive) published like mapped "
                                          "ones; any other unmapped code is treated as sensitive")
    sensitive_location: Literal["district", "suppress"] = Field(
        default="district", description="a sensitive row keeps its district (block, beat, point null) or "
                                        "loses that too (suppress)")
    coordinate_snap: Literal["block", "grid"] = Field(
        default="grid", description="published points: the centre of a grid_cell_m cell, or the block's mean "
                                    "point (falls back to the grid below k_min points)")
    grid_cell_m: float = Field(default=250.0, gt=0, description="side of the snapping grid, metres")
    time_round: Literal["hour"] = Field(default="hour", description="published times are rounded down to this, "
                                                                    "local time with its UTC offset")
    k_min: int = Field(default=3, ge=1, description="published counts below this (and above 0) are suppressed")

    @field_validator("columns")
    @classmethod
    def _no_forbidden_columns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for dataset, cols in v.items():
            bad = [c for c in cols if c.startswith("raw_") or c in NEVER_PUBLISHED]
            if bad:
                raise ValueError(f"{dataset}: columns {bad} can never be published (raw text, exact location)")
            if len(set(cols)) != len(cols):
                raise ValueError(f"{dataset}: duplicate columns in the allowlist")
        return v

    @field_validator("safe_unmapped_codes")
    @classmethod
    def _safe_codes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = sorted(set(v) - set(DATASETS))
        if bad:
            raise ValueError(f"datasets {bad} unknown; use {sorted(DATASETS)}")
        for dataset, codes in v.items():
            if any(not c.strip() for c in codes):
                raise ValueError(f"{dataset}: an empty code cannot be listed safe")
        return v

    def allowlist(self, dataset: str) -> list[str]:
        if dataset not in self.columns:
            raise ValueError(f"no column allowlist for dataset {dataset!r}; the policy lists {sorted(self.columns)}")
        return self.columns[dataset]

