"""Deterministic synthetic city ("Riverton") for `sara demo`.

Writes the extracts a real CAD and RMS would deliver for a fictional city police
department (agency ``metro``) and the surrounding sheriff (agency ``county``):

* night 1: a backfill extract 2024-11-01 .. 2026-11-15 stamped 2026-11-16 02:00 local;
* nights 2..6 (2026-11-17 .. 2026-11-21): the previous day's new records plus updated
  versions of records from the 1-3 days before (clear times filled in, disposition set,
  call type reclassified, RMS status changed), each with a later LastUpdated;
* night 6 also holds a late metro CAD extract stamped 2026-11-18 14:00 whose versions
  are older than versions already delivered (the pipeline must keep the newer ones).

The generator plants the patterns later analyses must find (hot spots, an officer-
initiated hot spot, repeat addresses, a near-repeat burglary process, an emerging hot
spot and a hot spot that gets a police response) and records them in ``manifest.json``.

Everything is vectorised with numpy/polars and fully deterministic for a given seed:
no wall-clock time is used, every random draw comes from ``numpy.random.default_rng``
seeded with ``(seed, stream)``, and all outputs are written in a fixed order.

Geometry is built in a local metric plane (metres east/north of the city centre) and
mapped to WGS84 with a fixed affine transform (local tangent-plane scale at the centre),
so the street grid is aligned with true north and containment tests in lon/lat are
exact.  Times are generated as local wall-clock times in America/Los_Angeles and kept
as UTC epoch seconds; every output string is rendered back in local time.

Modules: ``timeframe`` (days, run instants, local/UTC), ``geography`` (grid, addresses, layers),
``codes`` (call types, dispositions, offences), ``patterns`` (rates and planted patterns -> raw calls),
``calls`` (units, timelines, versions), ``incidents`` (RMS), ``text`` (names, narratives, renderers),
``writers`` (the vendor files), ``city`` (everything in memory), ``nights`` (the extracts of each night and
their delivery), ``manifest``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transforms.demo.city import build_city
from transforms.demo.codes import CALL_TYPE_CODES
from transforms.demo.geography import write_layers
from transforms.demo.manifest import build_manifest
from transforms.demo.nights import DemoNight, deliver_night, write_nights
from transforms.demo.writers import COUNTY_COLUMNS, METRO_COLUMNS, RMS_COLUMNS

__all__ = ["CALL_TYPE_CODES", "COUNTY_COLUMNS", "METRO_COLUMNS", "RMS_COLUMNS", "DemoNight", "deliver_night",
           "generate_demo_city"]


def generate_demo_city(out_dir: Path, seed: int = 20261121, scale: float = 1.0) -> list[DemoNight]:
    """Generate the Riverton demo city under ``out_dir`` (layers/, extracts/night_NN/<source>/,
    manifest.json) and return the nightly deliveries. ``scale`` multiplies every call volume."""
    out_dir = Path(out_dir)
    for sub in ("extracts", "layers"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    city = build_city(seed, scale)
    layers = write_layers(city.geo, out_dir / "layers")
    nights, night_entries, volumes = write_nights(city, out_dir)
    manifest = build_manifest(city, layers, night_entries, volumes)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return nights
