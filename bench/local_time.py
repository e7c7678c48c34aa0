"""Local times in the marts: ICU per row against the day table (marts.agency_utc_offsets), same run.

    .venv/bin/python bench/local_time.py                # 2,000,000 instants, two agencies in two zones
    .venv/bin/python bench/local_time.py --rows 10000000
    .venv/bin/python bench/local_time.py --quick        # CI smoke run: 50,000 instants

The marts turn every event of their horizon into a local date or wall-clock time in its agency's zone. The
baseline is what they did before: `timezone(z.timezone, event_at)` with the zone read from marts.agency_zones,
one ICU conversion per row. sara reads the same time through marts.agency_utc_offsets (one row per agency and UTC
day with ICU's offset that day: `sara_local`, transforms/warehouse/dst.py), ICU only on a day within a day of a
change of offset. Both are timed as the sum of the local dates over every instant (a full scan, nothing
returned), best of three, on a fresh DuckDB file with sara's connection settings; then every instant's wall
clock is compared (PASS when none differs). Instants: uniform over 2023-2024 (the marts' two years), agencies
in America/Chicago and America/New_York, half each.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code, not an installed copy

from transforms.marts.dimensions import write_agency_zones  # noqa: E402
from transforms.warehouse import db  # noqa: E402

ICU = """SELECT sum(epoch(CAST(timezone(z.timezone, t.event_at) AS DATE)))
         FROM t JOIN marts.agency_zones z USING (agency)"""
SARA = """SELECT sum(epoch(CAST(sara_local(t.event_at, o.utc_offset_us, z.timezone) AS DATE)))
          FROM t JOIN marts.agency_zones z USING (agency)
          LEFT JOIN marts.agency_utc_offsets o ON o.agency = t.agency AND o.utc_day = sara_utc_day(t.event_at)"""
DIFFER = """SELECT count(*) FILTER (WHERE sara_local(t.event_at, o.utc_offset_us, z.timezone)
                                    IS DISTINCT FROM timezone(z.timezone, t.event_at))
            FROM t JOIN marts.agency_zones z USING (agency)
            LEFT JOIN marts.agency_utc_offsets o ON o.agency = t.agency AND o.utc_day = sara_utc_day(t.event_at)"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _best(con, sql: str, runs: int = 3) -> tuple[float, float, object]:
    """Best wall and CPU seconds of `runs` runs, and the result."""
    best_w = best_c = float("inf")
    out = None
    for _ in range(runs):
        t, c = time.perf_counter(), _cpu()
        out = con.execute(sql).fetchone()[0]
        best_w, best_c = min(best_w, time.perf_counter() - t), min(best_c, _cpu() - c)
    return best_w, best_c, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, help="instants (default 2,000,000; 50,000 with --quick)")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: small size, correctness only")
    args = ap.parse_args(argv)
    rows = args.rows or (50_000 if args.quick else 2_000_000)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; load average {load}")
    with tempfile.TemporaryDirectory(prefix="sara-bench-local-time-") as tmp:
        con = db.connect(Path(tmp) / "w.duckdb", spatial=False)
        con.execute("CREATE SCHEMA marts")
        t = time.perf_counter()
        write_agency_zones(con, {"chi": "America/Chicago", "nyc": "America/New_York"})
        zones_s = time.perf_counter() - t
        con.execute("""CREATE TABLE t AS SELECT CASE WHEN i % 2 = 0 THEN 'chi' ELSE 'nyc' END AS agency,
                         to_timestamp(1672531200 + (hash(i) % (731 * 86400))::BIGINT) AS event_at
                       FROM range(?) r(i)""", [rows])
        icu = _best(con, ICU)
        sara = _best(con, SARA)
        differ = con.execute(DIFFER).fetchone()[0]
    print(f"{rows:,} instants; marts.agency_zones + agency_utc_offsets written in {zones_s:.2f} s\n")
    print(f"{'':24} {'wall s':>8} {'CPU s':>8}")
    print(f"{'ICU per row (baseline)':24} {icu[0]:>8.3f} {icu[1]:>8.2f}")
    print(f"{'day table (sara)':24} {sara[0]:>8.3f} {sara[1]:>8.2f}")
    ratio = f"{icu[0] / sara[0]:.1f}x" if sara[0] > 0 else "n/a"
    print(f"baseline / sara, wall: {ratio}\n")
    checks = {"same local dates summed": icu[2] == sara[2], "every wall-clock time equal to ICU's": differ == 0}
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
