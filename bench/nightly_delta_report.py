"""bench/nightly_delta.py's dates, limits and printed report (figures, checks, PASS/FAIL per target).

Kept apart from the runner so each stays readable: this module judges and prints what the runner measured.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ingest as bi

DAY = 86400
HIST_END = bi.T0 + bi.DAYS * DAY  # the day after the history: the delta's day
FIRST_DAY = datetime.fromtimestamp(bi.T0, UTC).date()  # received times are local wall times from T0
LAST_DAY = FIRST_DAY + timedelta(days=bi.DAYS - 1)  # last day of the history
DELTA_DAY = LAST_DAY + timedelta(days=1)
N_NIGHTS = 3  # delta nights in a row: the first after the big load, then steady-state ones
UPDATE_SHARE = 0.01  # share of the delta's rows that re-deliver an existing call (upsert)
MAX_DELTA_SHARE = 0.10  # delta ingest + normalize <= 10 % of the full rebuild's
MAX_MARTS_RATIO = 1.5  # nightly marts, history 2x vs 1x with the same windows (1.0 if bounded, 2.0 if not)
GROWS = 1.5  # a mart step whose CPU time grows this much with history (and by MIN_GROWTH_S or more) is named
MIN_GROWTH_S = 0.5  # CPU seconds
CODES = [d[0] for d in bi.DISPOSITIONS]
NEXT_DISPOSITION = dict(zip(CODES, CODES[1:] + CODES[:1], strict=True))


def _mb(b: float) -> str:
    return f"{b / 1e6:,.0f} MB"


def _rate(nbytes: int, s: float) -> str:
    return f"{s:.2f} ({nbytes / 1e6 / s:,.0f})" if s > 0 else f"{s:.2f}"


def _share(nm: tuple[int, int]) -> str:
    return f"{nm[0]:,} of {nm[1]:,}"


def _pub_total(r: dict) -> float:
    return r["copy_s"] + r["checkpoint_s"] + r["close_s"] + r["publish_s"]


def _load_checks(name: str, f: dict, expect: list[tuple[int, int]]) -> dict[str, bool]:
    """Every load `loaded`, rows_read = loaded + duplicate + quarantined, rows_read and quarantined as
    written."""
    loads = f["loads"]
    return {
        f"{name}: every load status loaded": [r[5] for r in loads] == ["loaded"] * len(expect),
        f"{name}: rows_read = loaded + duplicate + quarantined, every load":
            all(r[1] == r[2] + r[3] + r[4] for r in loads),
        f"{name}: rows_read and quarantined as written, every load": [(r[1], r[4]) for r in loads] == expect,
        f"{name}: core.quarantine holds the quarantined rows": f["quarantine"] == sum(r[4] for r in loads),
    }


def report(d: dict, args) -> bool:
    """Print the figures, checks and targets. Returns True when everything that is judged passed."""
    hist, rb, nights = d["history"], d["rebuild"], d["nights"]
    n, n_new, n_upd, q_h, q_d = d["rows"], d["n_new"], d["n_upd"], d["q_hist"], d["q_delta"]
    n_delta = n_new + n_upd
    k = len(nights)

    print(f"\nhistory {n:,} calls {FIRST_DAY}..{LAST_DAY} ({_mb(d['hist_bytes'])} CSV); {k} deltas of "
          f"{n_delta:,} rows, one a day from {DELTA_DAY} ({n_new:,} new calls, {n_upd:,} re-delivered with a "
          f"later extract time; {d['delta_bytes'] / 1e6:,.1f} MB)")
    print(f"memory_limit {d['mem'] or 'DuckDB default'}; load average {d['load0']} at start, "
          f"{d['load1']} after the delta nights")
    print(f"\n{'':36} {'wall s':>8} {'cpu s':>8} {'= raw':>8} {'+ norm':>8} {'peak MB':>9} {'/ rebuild':>10}")
    rows = [("first night: history (setup)", hist), (f"full rebuild: history + {k} deltas", rb)]
    rows += [(f"delta night {i + 1}: delta only", r) for i, r in enumerate(nights)]
    for label, r in rows:
        print(f"{label:36} {r['wall']:>8.2f} {r['cpu']:>8.2f} {r['raw_wall']:>8.2f} "
              f"{r['wall'] - r['raw_wall']:>8.2f} {r.get('rss_ingest_mb', r['rss_mb']):>9,.0f} "
              f"{r['wall'] / rb['wall']:>10.4f}")
    print(f"(a delta's share of the rebuild's rows: {n_delta / (n + k * n_delta):.4f}; delta / rebuild "
          "on CPU seconds: " + ", ".join(f"{r['cpu'] / rb['cpu']:.4f}" for r in nights) + ")")

    heads = "".join(f"{'night ' + str(i + 1):>16}" for i in range(k))
    print(f"\n  {'publishing, seconds (MB/s)':51}{heads}")
    lines = [
        ("warehouse file before / after, MB",
         lambda r: f"{r['copy_bytes'] / 1e6:,.0f} / {r['bytes'] / 1e6:,.0f}"),
        ("start_build: copy published -> .build", lambda r: _rate(r["copy_bytes"], r["copy_s"])),
        ("CHECKPOINT of the night's writes + close", lambda r: f"{r['checkpoint_s'] + r['close_s']:.2f}"),
        ("  blocks of raw.<source> it rewrote", lambda r: _share(r["rewritten"][f"raw.{bi.SOURCE}"])),
        ("  blocks of core.calls it rewrote", lambda r: _share(r["rewritten"]["core.calls"])),
        ("publish: checkpoint, fsync, os.replace", lambda r: _rate(r["bytes"], r["publish_s"])),
        ("publishing total", lambda r: f"{_pub_total(r):.2f}"),
        ("whole night without marts (+ ingest + normalize)", lambda r: f"{_pub_total(r) + r['wall']:.2f}"),
        ("  as a share of the full rebuild", lambda r: f"{(_pub_total(r) + r['wall']) / rb['wall']:.1%}"),
    ]
    for label, f in lines:
        print(f"  {label:51}" + "".join(f"{f(r):>16}" for r in nights))
    print(f"  first night publish (empty -> {_mb(hist['bytes'])}): CHECKPOINT + close "
          f"{hist['checkpoint_s'] + hist['close_s']:.2f} s, publish {hist['publish_s']:.2f} s")
    if args.profile:
        for i, r in enumerate(nights):
            print(f"\nslowest statements, delta night {i + 1}:{'':30} wall s   cpu s")
            for wall, cpu, _peak, sql in sorted(r["sql"], reverse=True)[:10]:
                print(f"  {sql[:70]:70} {wall:7.3f} {cpu:7.3f}")

    checks: dict[str, bool] = {}
    expect_loads = [(n, q_h)] + [(n_delta, q) for q in q_d]
    checks.update(_load_checks("rebuild", rb, expect_loads))
    for i, r in enumerate(nights):
        name = f"delta night {i + 1}"
        checks.update(_load_checks(name, r, expect_loads[: i + 2]))
        last = r["loads"][-1] if r["loads"] else (None,) * 6
        expect_core = n - q_h + sum(n_new - q for q in q_d[: i + 1])
        checks[f"{name}: delta load loaded = {n_delta:,} - {q_d[i]} quarantined, no duplicates"] = (
            last[2] == n_delta - q_d[i] and last[3] == 0)
        checks[f"{name}: core.calls = {expect_core:,} (history + new - quarantined; updates add no rows)"] = (
            r["core"] == expect_core)
    checks[f"rebuild: core.calls = {rb['core']:,}, as after the last delta night"] = (
        rb["core"] == nights[-1]["core"])
    checks["incremental == rebuild: core.calls row count and checksum of every column"] = (
        nights[-1]["core"] == rb["core"] and nights[-1]["checksum"] == rb["checksum"])
    checks["publish left no .build or .wal behind"] = not any(r["leftover"] for r in [hist, *nights])
    targets = {
        f"delta night {i + 1}: ingest + normalize <= {MAX_DELTA_SHARE:.0%} of the full rebuild's (wall)":
            r["wall"] / rb["wall"] <= MAX_DELTA_SHARE for i, r in enumerate(nights)}
    findings: list[str] = []
    if d.get("marts"):
        report_marts(d["marts"], checks, targets, findings, args.quick)

    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'info' if args.quick else 'FAIL'}  {name}")
    for f in findings:
        print(f"note  {f}")
    passed = all(checks.values()) and (args.quick or all(targets.values()))
    print("\nPASS" if passed else "\nFAIL")
    return passed


def _best(nights: list[dict], key: str) -> dict[str, float]:
    """Per step, the least seconds over the repeated nights (the least disturbed by other jobs)."""
    return {k: min(r[key][k] for r in nights) for k in nights[0][key]}


def report_marts(m: dict, checks: dict, targets: dict, findings: list[str], quick: bool) -> None:
    mr, a, b = m["rows"], m["a"], m["b"]
    print(f"\nmarts.build_all: history A = {mr:,} calls {FIRST_DAY}..{LAST_DAY}; B = A + {mr:,} older calls "
          f"{m['older_first']}..{m['older_last']}, before every window (the longest, compstat's same period "
          f"last year, starts {m['lookback']}).\nFirst: night 1, load and first build (as_of {LAST_DAY}). "
          + (f"Nightly: least seconds of {len(a) - 1} later nights (a {m['n_delta']:,}-row delta, then none; "
             if len(a) > 2 else f"Nightly: night 2 (a {m['n_delta']:,}-row delta; ")
          + f"as_of {DELTA_DAY}), A and B in turn.")
    wa, wb, ca, cb = _best(a[1:], "marts_steps"), _best(b[1:], "marts_steps"), \
        _best(a[1:], "marts_steps_cpu"), _best(b[1:], "marts_steps_cpu")
    print(f"{'(seconds)':22} {'first build':>14} {'nightly wall':>23} {'nightly CPU':>23}")
    print(f"{'step':22} {'A':>6} {'B':>7} {'A':>7} {'B':>8} {'B/A':>6} {'A':>7} {'B':>8} {'B/A':>6}")
    grows = []
    for step in wa:
        qw = wb[step] / wa[step] if wa[step] > 0 else float("nan")
        qc = cb[step] / ca[step] if ca[step] > 0 else float("nan")
        flag = qc >= GROWS and cb[step] - ca[step] >= MIN_GROWTH_S
        if flag:
            grows.append((step, ca[step], cb[step], qc))
        print(f"{step:22} {a[0]['marts_steps'][step]:>6.2f} {b[0]['marts_steps'][step]:>7.2f} "
              f"{wa[step]:>7.2f} {wb[step]:>8.2f} {qw:>6.2f} {ca[step]:>7.2f} {cb[step]:>8.2f} {qc:>6.2f}"
              f"{'  grows with history' if flag else ''}")
    ta, tb = min(r["marts_s"] for r in a[1:]), min(r["marts_s"] for r in b[1:])
    tca, tcb = min(r["marts_cpu"] for r in a[1:]), min(r["marts_cpu"] for r in b[1:])
    q_tot = tb / ta
    print(f"{'total':22} {a[0]['marts_s']:>6.2f} {b[0]['marts_s']:>7.2f} {ta:>7.2f} {tb:>8.2f} {q_tot:>6.2f} "
          f"{tca:>7.2f} {tcb:>8.2f} {tcb / tca:>6.2f}")
    print(f"{'delta ingest+normalize':22} {'':>6} {'':>7} {a[1]['wall']:>7.2f} {b[1]['wall']:>8.2f} "
          f"{b[1]['wall'] / a[1]['wall']:>6.2f}")
    print(f"{'peak RSS MB':22} {a[0]['rss_mb']:>6,.0f} {b[0]['rss_mb']:>7,.0f} "
          f"{max(r['rss_mb'] for r in a[1:]):>7,.0f} {max(r['rss_mb'] for r in b[1:]):>8,.0f}")
    same = [t for t in a[1]["marts"] if a[1]["marts"][t] == b[1]["marts"].get(t)]
    differ = [t for t in a[1]["marts"] if t not in same]
    print(f"marts tables with the same rows and content in A and B after the delta: {', '.join(same) or '-'}")
    print(f"marts tables that differ between A and B: {', '.join(differ) or '-'}")
    if quick and grows:
        findings.append("--quick: step times of a few tenths of a second are noise; growth is not judged")
    for step, x, y, q in [] if quick else grows:
        findings.append(f"mart step {step!r} grows with history: {x:.2f} -> {y:.2f} CPU s ({q:.2f}x) with "
                        f"{mr:,} more calls outside every window "
                        f"(+{(y - x) / mr * 1e6:.2f} CPU s per million calls)")
    exp_a, exp_b = m["expect_a"], m["expect_b"]
    checks.update({
        f"marts A: core.calls after the delta = {exp_a:,}": a[-1]["core"] == exp_a,
        f"marts B: core.calls after the delta = {exp_b:,}": b[-1]["core"] == exp_b,
        "marts A and B: every load loaded and reconciled": all(
            r[5] == "loaded" and r[1] == r[2] + r[3] + r[4] for r in a[-1]["loads"] + b[-1]["loads"]),
    })
    targets[f"nightly marts, wall time B (2x history) / A (1x), same windows <= {MAX_MARTS_RATIO}"] = (
        q_tot <= MAX_MARTS_RATIO)
    name = f"every mart step bounded by its windows (none >= {GROWS}x and >= +{MIN_GROWTH_S} CPU s in B)"
    targets[name] = not grows


