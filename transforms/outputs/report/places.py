"""The place-based sections of the report: the Gi* hot spot map, top repeat locations with their 80/20 curve,
emerging hot spot classes, the Knox near-repeat table and the demand split of the hottest cells."""

from __future__ import annotations

import math

from transforms.outputs.report.markup import MISSING, Missing, esc, fmt_value, html_table, pct, what_words
from transforms.outputs.report.reads import (
    Ctx,
    agency_datasets,
    fetch,
    hot_choice,
    pick,
    qcols,
    qtable,
    require,
    table_columns,
)
from transforms.outputs.report.summary import place_names
from transforms.outputs.report.svg import lorenz_chart, share_bar
from transforms.outputs.report.webmap import map_section

REPEAT_HEADERS = {"rank": "Rank", "place": "Place", "n_repeat_window": "Countable events",
                  "n_repeat_window_all": "All events", "cum_share_events": "Share of events, cumulative",
                  "is_repeat": "Repeat location"}
KNOX_ALPHA = 0.05  # a Knox cell is shaded when its ratio is above 1 and its p is at or below this


def knox_shaded(ratio: object, p: object) -> bool:
    """A near-repeat pattern: more pairs than chance (ratio > 1) with p <= KNOX_ALPHA. A cell without a p (the
    open bands, which mirror the closed ones) is never shaded, whatever its ratio."""
    if ratio is None or p is None:
        return False
    r, q = float(ratio), float(p)
    return r == r and q == q and r > 1 and q <= KNOX_ALPHA


def no_call_cells(c: Ctx, agency: str) -> str:
    """Why an agency has no grid hot spots of calls to show: no calls feed, or none in the marts."""
    have = agency_datasets(c, agency)
    if have is not None and "calls" not in have:
        return "this part is made from calls for service, and the agency has no calls (CAD) feed"
    return "no grid hot spots of calls (every category) in marts.hotspots for its windows"


def share_at(level: float, curve: list[tuple[float, float]], n_places: int) -> float | None:
    """The smallest share of the `n_places` places, most events first, that holds at least `level` of the
    events, read off the concentration curve (share of places, share of events; one point per count, ascending).
    Between two points the curve is straight, the places of one count having the same events each: as many of
    them are taken as reach `level`, whole places only. None without a curve."""
    x0, y0 = 0.0, 0.0
    for x1, y1 in curve:
        if y1 >= level:
            if y1 == y0 or n_places <= 0:
                return x1
            need = (level - y0) / (y1 - y0) * (x1 - x0) * n_places  # places of this count needed, fractional
            return min(x1, x0 + math.ceil(need - 1e-9) / n_places)
        x0, y0 = x1, y1
    return None


def section_map(c: Ctx) -> str:
    """The interactive hot spot maps: one per agency and dataset, Leaflet inlined (webmap.py)."""
    return map_section(c)


def section_repeat(c: Ctx) -> str:
    cols = require(c.con, "marts.repeat_location_rows", ["agency", "dataset", "category_group", "origin",
                                                        "n_repeat_window", "rank", "cum_share_events",
                                                        "cum_share_locations"])
    combos = fetch(c.con, """SELECT DISTINCT agency, dataset, origin FROM marts.repeat_location_rows
                             WHERE category_group = 'all' ORDER BY agency, dataset""")
    if not combos:
        raise Missing("marts.repeat_location_rows has no rows")
    out = []
    for ag, ds in sorted({(r["agency"], r["dataset"]) for r in combos}):
        origin = pick(sorted({r["origin"] for r in combos if (r["agency"], r["dataset"]) == (ag, ds)}),
                       [c.origin, "all"])
        base = ("FROM marts.repeat_location_rows WHERE agency = ? AND dataset = ? AND category_group = 'all' "
                "AND origin = ?")
        label = ("coalesce(location_label, address_block, location_key)" if "location_label" in cols
                 else "coalesce(address_block, location_key)" if "address_block" in cols else "location_key")
        show = ["rank", "place"] + [k for k in ("n_repeat_window", "n_repeat_window_all", "cum_share_events",
                                                "is_repeat") if k in cols]
        top = fetch(c.con, f"SELECT rank, {label} AS place, {qcols(show[2:])} {base} "
                           "ORDER BY rank, n_repeat_window DESC LIMIT 15", [ag, ds, origin])
        # one point per count: places with the same count share their cumulative shares (the curve is straight
        # between two counts, so these points are the whole curve)
        curve = fetch(c.con, f"SELECT DISTINCT cum_share_locations AS x, cum_share_events AS y {base} "
                             "ORDER BY cum_share_locations", [ag, ds, origin])
        step = max(1, len(curve) // 200)
        pts = [(float(r["x"]), float(r["y"])) for r in curve[::step]]
        if curve:
            pts.append((float(curve[-1]["x"]), float(curve[-1]["y"])))
        n_places = fetch(c.con, f"SELECT count(*) AS n {base}", [ag, ds, origin])[0]["n"]
        share80 = share_at(0.8, [(float(r["x"]), float(r["y"])) for r in curve], n_places)
        days = c.settings.sara.analysis.repeat_window_days
        title = f"{c.name(ag)}: {what_words(ds, 'all', str(origin))}, last {days} days"
        tbl = html_table(top, show, fmt=lambda k, v: pct(v) if k == "cum_share_events" else fmt_value(v),
                         headers=REPEAT_HEADERS)
        out.append(f"<h3>{esc(title)}</h3><div class=\"charts\"><div>{tbl}</div>"
                   f"{lorenz_chart(pts, '80/20 curve', share80)}</div>")
    if "n_repeat_window_all" in cols:
        out.insert(0, '<p class="how">Ranked by countable events: calls that were cancelled, duplicates of '
                      "another call or voided are not countable (the disposition crosswalk's countable flag). "
                      '"All events" also counts the cancelled and duplicate calls at the place (not the '
                      "voided ones); for incidents the two are the same. These are exact addresses: internal "
                      "use only.</p>")
    return "".join(out)


def section_emerging(c: Ctx) -> str:
    table = "marts.emerging_hotspot_rows" if table_columns(c.con, "marts.emerging_hotspot_rows") \
        else "marts.emerging_hotspots"
    cols = require(c.con, table, ["agency", "pattern"])
    filt, params = ["pattern IS NOT NULL"], []
    if "category_group" in cols:
        filt.append("category_group = 'all'")
    if "origin" in cols:
        origins = [r["origin"] for r in fetch(c.con, f"SELECT DISTINCT origin FROM {qtable(table)}")]
        o = pick(sorted(origins), [c.origin, "all"])
        if o is not None:
            filt.append("origin = ?")
            params.append(o)
    ds = ", dataset" if "dataset" in cols else ""
    where = f"WHERE {' AND '.join(filt)}" if filt else ""
    rows = fetch(c.con, f"SELECT agency{ds}, pattern, count(*) AS n FROM {qtable(table)} {where} GROUP BY ALL",
                 params)
    if not rows:
        raise Missing(f"{table} has no rows")
    patterns = sorted({r["pattern"] for r in rows}, key=lambda p: (p == "No Pattern Detected", p))
    keys = sorted({(r["agency"], r.get("dataset", "")) for r in rows})
    table_rows = []
    for ag, d in keys:
        row: dict[str, object] = {"Agency": c.name(ag)}
        if ds:
            row["Data"] = what_words(d, "all").split(",")[0]
        for p in patterns:
            row[p] = sum(r["n"] for r in rows if (r["agency"], r.get("dataset", "")) == (ag, d)
                         and r["pattern"] == p)
        table_rows.append(row)
    note = (f"<p>Grid cells per pattern, {esc(what_words('events', 'all', str(params[0])).lower())}.</p>"
            if params else "")
    return note + html_table(table_rows)


def section_knox(c: Ctx) -> str:
    cols = require(c.con, "marts.near_repeat", ["space_lo", "space_hi", "time_lo", "time_hi", "observed",
                                              "knox_ratio"])
    rows = fetch(c.con, "SELECT * FROM marts.near_repeat")
    if not rows:
        raise Missing("marts.near_repeat has no rows")
    gkeys = [k for k in ("agency", "dataset", "category_group") if k in cols]
    out = []
    for key in sorted({tuple(r[k] for k in gkeys) for r in rows}, key=lambda t: tuple(map(str, t))):
        sub = [r for r in rows if tuple(r[k] for k in gkeys) == key]
        spaces = sorted({(r["space_lo"], r["space_hi"]) for r in sub}, key=lambda s: (s[0], s[1]))
        times = sorted({(r["time_lo"], r["time_hi"]) for r in sub}, key=lambda s: (s[0], s[1]))
        cell = {((r["space_lo"], r["space_hi"]), (r["time_lo"], r["time_hi"])): r for r in sub}
        kv = dict(zip(gkeys, key, strict=True))
        label = ", ".join([c.name(kv["agency"])] if "agency" in kv else []) + (
            (": " if "agency" in kv else "") + what_words(kv["dataset"], kv.get("category_group", "all"))
            if "dataset" in kv else "")
        t = [f"<h3>{esc(label or 'all events')}</h3><table><thead><tr><th class=\"t\">distance \\ days</th>"]
        t += [f"<th>{esc(fmt_value(lo))}–{esc(fmt_value(hi))}</th>" for lo, hi in times]
        t.append("</tr></thead><tbody>")
        for s in spaces:
            t.append(f'<tr><th class="t">{esc(fmt_value(s[0]))}–{esc(fmt_value(s[1]))} m</th>')
            for tm in times:
                r = cell.get((s, tm))
                if r is None:
                    t.append("<td></td>")
                    continue
                ratio, p = r.get("knox_ratio"), r.get("p_value")
                style = ""
                if knox_shaded(ratio, p):
                    a = min(1.0, (float(ratio) - 1) / 2) * 0.8 + 0.2
                    style = f' style="background:rgba(214,39,40,{a:.2f})" data-shaded="1"'
                has_p = p is not None and float(p) == float(p)
                ps = f"p={p:.3f}" if has_p else "no p (open band)"
                why = "" if has_p or not r.get("p_note") else f"; {r['p_note']}"
                t.append(f'<td{style} title="observed {esc(fmt_value(r.get("observed")))}, expected '
                         f'{esc(fmt_value(r.get("expected_mean")))}{esc(why)}">{esc(fmt_value(ratio))}<br>'
                         f'<small>{esc(ps)}</small></td>')
            t.append("</tr>")
        t.append("</tbody></table>")
        out.append("".join(t))
    legend = ('<p class="how">The last row (beyond the largest distance) and the last column (beyond the longest '
              "time) have no p: their counts are all pairs of their column or row less the other cells', so they "
              f"mirror the closed cells and test no near repeat; they are never shaded (p ≤ {KNOX_ALPHA:g}).</p>")
    return legend + "".join(out)


def own_count(n: object) -> tuple[str, str]:
    """A hot cell's own count as shown in the top lists, and its CSS class: Gi* looks at the cell and its
    neighbours, so a cell with no event of its own can rank high; it is marked so nobody sends a car there."""
    if n is not None and int(n) == 0:
        return "0 (neighbours only)", "zero"
    return fmt_value(n), ""


def section_demand(c: Ctx) -> str:
    stats = "marts.hotspot_stats" if table_columns(c.con, "marts.hotspot_stats") else "marts.hotspots"
    cols = require(c.con, stats, ["agency", "unit_type", "unit_id", "origin", "window_days", "gi_bin", "z", "n"])
    sim = "gi_bin_sim" in cols
    require(c.con, "marts.hotspot_count_rows", ["agency", "unit_type", "unit_id", "origin", "window_days", "n"])
    agencies = [r["agency"] for r in fetch(c.con, f"SELECT DISTINCT agency FROM {qtable(stats)} ORDER BY 1")]
    if not agencies:
        raise Missing(f"{stats} has no rows")
    out = []
    for ag in agencies:
        choice = hot_choice(c, stats, ag, ["all"], "calls", 28)
        if choice is None or choice[0] != "all":
            out.append(f'<p class="na">Not available for {esc(c.name(ag))}: {esc(no_call_cells(c, ag))}.</p>')
            continue
        _, window = choice
        top = fetch(c.con, f"""SELECT unit_id, n, z, gi_bin{', gi_bin_sim' if sim else ''} FROM {qtable(stats)}
                               WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                                 AND category_group = 'all' AND origin = 'all' AND window_days = ?
                                 AND gi_bin > 0 ORDER BY z DESC, unit_id LIMIT 10""", [ag, window])
        if not top:
            out.append(f'<p class="na">{esc(c.name(ag))}: no hot cells in the last {window} days.</p>')
            continue
        counts = fetch(c.con, f"""SELECT unit_id, origin, sum(n) AS n FROM marts.hotspot_count_rows
                                 WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                                   AND category_group = 'all' AND window_days = ?
                                   AND origin IN ('community', 'officer', 'unknown')
                                   AND unit_id IN ({', '.join('?' * len(top))})
                                 GROUP BY ALL""", [ag, window, *[r["unit_id"] for r in top]])
        sim_on = sim and any(r.get("gi_bin_sim") is not None for r in top)
        names = place_names(c, ag, [r["unit_id"] for r in top])
        t = ['<table><thead><tr><th class="t">Rank</th><th class="t">Grid cell</th><th>Own calls</th><th>Gi* z</th>'
             f'{"<th>Bin (permutations)</th>" if sim_on else ""}<th>Community</th>'
             '<th>Officer</th><th>Unknown</th><th class="t">Split</th><th class="t">Flag</th>'
             '<th class="t">Most frequent block address</th></tr></thead><tbody>']
        for rank, r in enumerate(top, 1):
            by = {x["origin"]: float(x["n"] or 0) for x in counts if x["unit_id"] == r["unit_id"]}
            tot = sum(by.values())
            # a cell with no call of its own has no split: its shares are missing, not 0%
            sh = {k: (by.get(k, 0.0) / tot if tot else None) for k in ("community", "officer", "unknown")}
            flag = bool(tot) and sh["officer"] > 0.5
            n_text, n_class = own_count(r["n"])
            t.append(f'<tr><td class="t">{rank}</td><td class="t">{esc(r["unit_id"])}</td>'
                     f'<td{f" class={n_class}" if n_class else ""}>{esc(n_text)}</td>'
                     f'<td>{esc(fmt_value(r["z"]))}</td>'
                     + (f'<td>{esc(fmt_value(r.get("gi_bin_sim")))}</td>' if sim_on else "")
                     + f'<td>{pct(sh["community"])}</td>'
                     f'<td{" class=flag" if flag else ""}>{pct(sh["officer"])}</td><td>{pct(sh["unknown"])}</td>'
                     f'<td class="t">{share_bar(sh) if tot else ""}</td>'
                     f'<td class="t{" flag" if flag else ""}">{"officer-initiated majority" if flag else ""}</td>'
                     f'<td class="t">{esc(names.get(r["unit_id"], MISSING))}</td></tr>')
        t.append("</tbody></table>")
        zeros = sum(1 for r in top if r["n"] is not None and int(r["n"]) == 0)
        note = (f'<p class="how">Ranked by Gi* z. {zeros} of these {len(top)} cells had no call of their own in '
                'the window: they are hot through their neighbours (Gi* counts the cell and the cells around '
                'it).</p>'
                if zeros else '<p class="how">Ranked by Gi* z.</p>')
        out.append(f"<h3>{esc(c.name(ag))}: top {len(top)} hot cells, calls, last {window} days</h3>"
                   + note + "".join(t))
    return "".join(out)


