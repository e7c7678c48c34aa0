"""Response-time months: a steady night's response-time marts against computing every month, same run.

    .venv/bin/python bench/response_months.py                      # 500k, 1M and 2M calls
    .venv/bin/python bench/response_months.py --calls 1000000      # one size
    .venv/bin/python bench/response_months.py --quick              # CI smoke run: 20,000 calls

The response-time marts (marts.response_times, response_times_agency, response_times_excluded) are kept
between nights per agency x local month (transforms/marts/response_months.py): a night computes only the
months whose calls a new load changed, and the months new in the agency's period. This bench times that step
alone (transforms.marts.compstat.build_response_times) on a synthetic warehouse in a temporary folder:

- history: N calls spread evenly over two years (2023-01-01 .. 2024-12-31, one agency in America/Chicago,
  5 priorities, 25 districts, 85 % community, 10 % cancelled, 5 % not countable, 1 % void), written in time
  order as extracts arrive, one version row per call (core.call_versions); as_of 2025-01-01, 24 whole months;
- the first build (every month: what the step cost every night before the months were kept) is the baseline;
- two nights, as bench/big_city.py makes them: N / 730 new calls on the next day (in no whole month yet) and
  1 % of that number re-delivered with a changed response time, drawn over the whole history;
- after the nights, the kept marts against every month computed again from scratch (the kept tables dropped):
  the same digest (a sum of row hashes over every column) is required (PASS/FAIL).

Printed per size: wall and CPU seconds (process user + system, DuckDB's threads included) of the first build
and of each night, the months each night touched, and the night's share of the first build. The machine's
load average is printed beside them: compare CPU seconds on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code, not an installed copy

from transforms.marts import compstat, response_months  # noqa: E402
from transforms.marts.dimensions import write_agency_zones  # noqa: E402
from transforms.warehouse.db import connect  # noqa: E402

DIGEST = """SELECT count(*), sum(hash(COLUMNS(*)))::VARCHAR FROM marts.{}"""


def history(con: duckdb.DuckDBPyConnection, n: int) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA core; CREATE SCHEMA marts")
    con.execute("""CREATE TABLE core.calls AS
      SELECT 'c' || i AS call_id, 'cad' AS source, 'city' AS agency,
             to_timestamp(1672560000 + (hash(i, 1) % (730 * 86400))::BIGINT) AS event_at,
             (60 + hash(i, 2) % 1800)::DOUBLE AS response_s, (hash(i, 3) % 600)::DOUBLE AS queue_s,
             (hash(i, 4) % 900)::DOUBLE AS travel_s, (1 + hash(i, 5) % 5)::INTEGER AS priority_level,
             CASE WHEN hash(i, 6) % 100 < 85 THEN 'community' ELSE 'officer' END AS origin,
             hash(i, 7) % 100 < 95 AS is_countable, hash(i, 8) % 100 < 1 AS is_void,
             CASE WHEN hash(i, 9) % 100 < 10 THEN 'Cancelled' ELSE 'Report' END AS disposition_category,
             'D' || (hash(i, 10) % 25) AS district, 'exact' AS time_precision, NULL::VARCHAR AS interval_issue,
             'L0' AS load_id
      FROM range(?) t(i) ORDER BY event_at""", [n])
    con.execute("CREATE TABLE core.call_versions AS SELECT call_id, source, agency, event_at, load_id, "
                "NULL::VARCHAR AS ended_load_id FROM core.calls")
    write_agency_zones(con, {"city": "America/Chicago"})  # and the day table of local offsets, as a build does
    con.execute("CREATE TABLE marts.horizon AS SELECT 'city' AS agency, DATE '2023-01-01' AS first_date")
    con.execute("CREATE TABLE marts.coverage AS SELECT 'city' AS agency, 'calls' AS dataset, "
                "DATE '2023-01-01' AS first_day")
    con.execute("CREATE TABLE marts.periods AS SELECT 'city' AS agency, DATE '2025-01-01' AS as_of")
    con.execute("CHECKPOINT")


def night(con: duckdb.DuckDBPyConnection, n: int, k: int) -> int:
    """Day k after the history: n/730 new calls, and 1 % of that re-delivered (old calls, response time
    changed). Returns the number re-delivered."""
    load, new, upd = f"L{k}", max(1, round(n / 730)), max(1, round(n / 73000))
    con.execute("""INSERT INTO core.calls SELECT 'n' || ? || '_' || i, 'cad', 'city',
                   to_timestamp(1735711200 + (? - 1) * 86400 + i * 60), 300, 30, 270, 2, 'community', true, false,
                   'Report', 'D1', 'exact', NULL, ? FROM range(?) t(i)""", [k, k, load, new])
    con.execute("INSERT INTO core.call_versions SELECT call_id, source, agency, event_at, load_id, NULL "
                "FROM core.calls WHERE load_id = ?", [load])
    ids = [r[0] for r in con.execute(
        "SELECT call_id FROM core.calls WHERE load_id = 'L0' AND hash(call_id, ?) % ? = 0 LIMIT ?",
        [k, max(1, n // (upd * 2)), upd]).fetchall()]
    con.execute("UPDATE core.calls SET response_s = response_s + 60, load_id = ? WHERE list_contains(?, call_id)",
                [load, ids])
    con.execute("UPDATE core.call_versions SET ended_load_id = ? WHERE list_contains(?, call_id) "
                "AND ended_load_id IS NULL", [load, ids])
    con.execute("INSERT INTO core.call_versions SELECT call_id, source, agency, event_at, load_id, NULL "
                "FROM core.calls WHERE list_contains(?, call_id)", [ids])
    con.execute("CHECKPOINT")
    return len(ids)


def step(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    c0, t0 = os.times(), time.perf_counter()
    compstat.build_response_times(con)
    c1 = os.times()
    return time.perf_counter() - t0, c1.user + c1.system - c0.user - c0.system


def digests(con: duckdb.DuckDBPyConnection) -> dict:
    return {m: con.execute(DIGEST.format(m)).fetchone() for m in response_months.MARTS}


def run(n: int, folder: Path) -> bool:
    con = connect(folder / f"rt_{n}.duckdb", spatial=False)  # sara's session: UTC, the local-time macros
    try:
        history(con, n)
        first = step(con)
        print(f"{n:>10,} calls  first build (every month) {first[0]:7.2f} s wall {first[1]:6.2f} s CPU", flush=True)
        for k in (1, 2):
            upd = night(con, n, k)
            months = con.execute("SELECT count(DISTINCT date_trunc('month', timezone('America/Chicago', event_at))) "
                                 "FROM core.calls WHERE load_id = ? AND call_id LIKE 'c%'", [f"L{k}"]).fetchone()[0]
            wall, cpu = step(con)
            print(f"{'':>16} night {k}: {upd} re-delivered over {months} old months: {wall:7.2f} s wall "
                  f"{cpu:6.2f} s CPU = {cpu / first[1]:.2f} of the first build's CPU", flush=True)
        kept = digests(con)
        for t in response_months.TABLES:
            con.execute(f"DROP TABLE marts.{t}")
        step(con)
        same = digests(con) == kept
        print(f"{'PASS' if same else 'FAIL'}: {n:,} calls, kept months == every month computed again "
              f"({', '.join(f'{m} {kept[m][0]} rows' for m in kept)})", flush=True)
        return same
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, action="append", help="history size (repeatable); default 500k, 1M, 2M")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: 20,000 calls")
    args = ap.parse_args()
    sizes = [20_000] if args.quick else (args.calls or [500_000, 1_000_000, 2_000_000])
    print(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ok = all([run(n, Path(tmp)) for n in sizes])
    print(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} at the end", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
