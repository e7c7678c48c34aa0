"""A SARA problem of agency `metro` and its settings, for the problem tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from transforms.config import AgencyConfig, SaraConfig, Settings

X0, Y0 = 500000.0, 5000000.0
CONTROL_WKT = "POLYGON ((501000 4999000, 502000 4999000, 502000 5000000, 501000 5000000, 501000 4999000))"


def problem_settings(tmp_path: Path) -> Settings:
    """Settings of one agency, `metro` (UTM 10N), with no sources."""
    sara = SaraConfig(
        agencies={"metro": AgencyConfig(name="Metro", timezone="America/Los_Angeles", crs="EPSG:32610",
                                        bbox=(-123.1, 45.1, -122.9, 45.2))},
        sources=[])
    return Settings(tmp_path, tmp_path / "config" / "sara.toml", sara, {})


def problem(**over) -> dict:
    """A valid problem of `metro` (target circle, buffer, control polygon, 10 days before and after), with
    `over` changed."""
    p = {
        "name": "p1", "agency": "metro", "dataset": "incidents", "categories": ["Burglary"],
        "target": {"circle": {"x": X0, "y": Y0, "radius_m": 100}}, "buffer_m": 200,
        "control": {"wkt": CONTROL_WKT}, "control_weighting": "none",
        "response_date": "2026-01-11",
        "pre": {"start": "2026-01-01", "end": "2026-01-10"},
        "post": {"start": "2026-01-11", "end": "2026-01-20"},
    }
    p.update(over)
    return p


def write_problem(folder: Path, data: dict, stem: str | None = None) -> Path:
    """The problem as folder/<stem or name>.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem or data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
