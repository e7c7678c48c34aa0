"""The report's first screen: what changed, per agency, in short sentences an analyst can read aloud.

Per agency: the biggest increases against last year (this week and over 28 days, marts.compstat), the hottest
places of the default slice (marts.hotspot_stats), new and emerging hot spots named by their most frequent block address (marts.emerging_hotspot_rows, the events of the
cell through marts.event_units and marts.events), the top repeat addresses (marts.repeat_location_rows), the
tracked problems' status (marts.problem_assessment) and feed health (marts.coverage, marts.coverage_daily,
marts.mart_status). Each part that cannot be told says why, in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from transforms.outputs.report.markup import (
    MIN_COUNT,
    Z_LIMIT,
    change_class,
    esc,
    fmt_change,
    is_missing,
    not_available,
    what_words,
)
from transforms.outputs.report.reads import (
    STATE_WORDS,
    Ctx,
    agency_datasets,
    fetch,
    hot_choice,
    pick,
    qtable,
    table_columns,
)
from transforms.outputs.slice import default_slice

TOP = 3  # sentences per part
# the emerging hot-spot patterns the first screen names, most urgent first
NEW_PATTERNS = ("New Hot Spot", "Intensifying Hot Spot", "Consecutive Hot Spot")
MART_WORDS = {"coverage": "data coverage", "hotspots": "hot spots", "emerging_hotspots": "emerging hot spots",
              "hotspot_audit": "hot-spot audit", "kde": "density", "hotspot_accuracy": "hot-spot accuracy", "repeat_locations": "repeat locations",
              "concentration": "concentration", "temporal_profile": "hour of week", "near_repeat": "near repeats",
              "compstat": "CompStat", "compstat_top": "CompStat top lists", "response_times": "response times",
              "problem_assessment": "tracked problems", "category_groups": "category groups"}


def unit_words(unit_type: str, unit_id: object) -> str:
    if unit_type == "agency":
        return "agency-wide"
    if unit_id == "(unassigned)":
        return f"no {unit_type} recorded"
    return f"{unit_type} {unit_id}"


def increases(c: Ctx, agency: str, period: str) -> list[str]:
    """The TOP largest increases of the agency's period (agency-wide and per district) with a comparison: the
    likely real ones first (markup.change_class), then by the size of the change; a sentence each."""
    rows = fetch(c.con, """SELECT unit_type, unit_id, dataset, category_group, n, n_last_year, change, poisson_z
                           FROM marts.compstat WHERE agency = ? AND period = ? AND comparison = 'ok'
                             AND unit_type IN ('agency', 'district') AND change > 0
                           ORDER BY poisson_z >= ? AND greatest(n, n_last_year) >= ? DESC, change DESC,
                                    poisson_z DESC, unit_type, unit_id, dataset, category_group""",
                 [agency, period, Z_LIMIT, MIN_COUNT])[:TOP]
    out = []
    for r in rows:
        real = change_class(r["poisson_z"], r["n"], r["n_last_year"]) == "up"
        out.append(f"{what_words(r['dataset'], r['category_group'])}, {unit_words(r['unit_type'], r['unit_id'])}:"
                   f" {r['n']:,} against {r['n_last_year']:,} a year ago, {fmt_change(r['change'], r['n_last_year'])}."
                   + (" A likely real increase." if real else " Within chance."))
    return out


def _no_comparison(c: Ctx, agency: str, period: str) -> str | None:
    """Why the period has no comparison agency-wide (the marts' words), when it has none."""
    rows = fetch(c.con, """SELECT DISTINCT dataset, comparison FROM marts.compstat WHERE agency = ? AND period = ?
                           AND unit_type = 'agency' AND comparison <> 'ok' ORDER BY 1, 2""", [agency, period])
    return " ".join(f"{what_words(r['dataset'], 'all').split(',')[0]}: {r['comparison']}." for r in rows) or None


def place_names(c: Ctx, agency: str, cells: Sequence[str]) -> dict[str, str]:
    """grid cell -> the most frequent block address of the located events in it (marts.event_units joined to
    marts.events; a place without an address by its marts.location_labels label); ties go to the smaller name."""
    if not cells or not table_columns(c.con, "marts.event_units"):
        return {}
    labels = table_columns(c.con, "marts.location_labels")
    name = ("coalesce(e.address_block, l.location_label)" if labels else "e.address_block")
    join = ("LEFT JOIN marts.location_labels l ON l.agency = e.agency AND l.location_key = e.location_key"
            if labels else "")
    rows = fetch(c.con, f"""
        SELECT unit_id, place FROM (
            SELECT u.unit_id, {name} AS place, count(*) AS n
            FROM marts.event_units u
            JOIN marts.events e ON e.dataset = u.dataset AND e.source = u.source AND e.event_id = u.event_id
            {join}
            WHERE u.agency = ? AND u.unit_type = 'grid' AND u.unit_id IN ({", ".join("?" * len(cells))})
              AND {name} IS NOT NULL
            GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY unit_id ORDER BY n DESC, place) = 1""", [agency, *cells])
    return {r["unit_id"]: r["place"] for r in rows}


def main_dataset(c: Ctx, agency: str) -> str:
    """The dataset the first screen's places come from: calls when the agency has a calls feed, else incidents
    (an RMS-only agency gets its hot spots and repeat places from its recorded crimes)."""
    have = agency_datasets(c, agency)
    return "calls" if not have or "calls" in have else "incidents"


NOUN = {"calls": "call", "incidents": "recorded crime"}
DATASET_WORDS = {"calls": "calls", "incidents": "recorded crimes"}


def new_hot_spots(c: Ctx, agency: str, dataset: str = "calls") -> list[str]:
    table = "marts.emerging_hotspot_rows"
    if not table_columns(c.con, table):
        return []
    avail = fetch(c.con, f"SELECT DISTINCT origin FROM {qtable(table)} WHERE agency = ? AND dataset = ? "
                         "AND category_group = 'all'", [agency, dataset])
    origin = pick(sorted(r["origin"] for r in avail), [c.origin, "all"])
    rank = " ".join(f"WHEN ? THEN {i}" for i in range(len(NEW_PATTERNS)))
    rows = fetch(c.con, f"""SELECT * FROM {qtable(table)}
                            WHERE agency = ? AND dataset = ? AND category_group = 'all' AND origin = ?
                              AND pattern IN ({", ".join("?" * len(NEW_PATTERNS))})
                            ORDER BY CASE pattern {rank} END, n_last_step DESC NULLS LAST, n DESC, unit_id
                            LIMIT ?""", [agency, dataset, origin, *NEW_PATTERNS, *NEW_PATTERNS, TOP])
    names = place_names(c, agency, [r["unit_id"] for r in rows])
    out = []
    for r in rows:
        where = names.get(r["unit_id"], f"grid cell {r['unit_id']} (no address in its events)")
        step = r.get("step") if r.get("step") in ("week", "month") else "step"
        span = (f"the last {plural(int(r['n_steps']), step)}" if not is_missing(r.get("n_steps"))
                else "the space-time cube")
        last = "" if is_missing(r.get("n_last_step")) else f", {int(r['n_last_step']):,} in the last {step}"
        out.append(f"{r['pattern']} at {where}: {plural(int(r.get('n') or 0), NOUN[dataset])} in {span}{last}.")
    return out


def hot_now(c: Ctx, agency: str, dataset: str = "calls") -> list[str]:
    """The TOP hottest grid cells of the default slice (Gi* 99% hot, with events of their own), by z, named."""
    stats = "marts.hotspot_stats" if table_columns(c.con, "marts.hotspot_stats") else "marts.hotspots"
    if not table_columns(c.con, stats):
        return []
    sl = default_slice(c.settings)
    choice = hot_choice(c, stats, agency, [sl.origin, "all"], dataset, sl.window_days, sl.category_group)
    if choice is None:
        return []
    origin, window = choice
    rows = fetch(c.con, f"""SELECT unit_id, n, z FROM {qtable(stats)}
                            WHERE agency = ? AND unit_type = 'grid' AND dataset = ? AND category_group = ?
                              AND origin = ? AND window_days = ? AND gi_bin = 3 AND n > 0
                            ORDER BY z DESC, n DESC, unit_id LIMIT ?""",
                 [agency, dataset, sl.category_group, origin, window, TOP])
    names = place_names(c, agency, [r["unit_id"] for r in rows])
    kind = {"all": "", "community": "community ", "officer": "officer-initiated ", "unknown": ""}.get(str(origin), "")
    group = "" if sl.category_group == "all" else f" ({sl.category_group})"
    seen: set[str] = set()
    out = []
    for r in rows:
        name = names.get(r["unit_id"], f"grid cell {r['unit_id']}")
        if name in seen:  # two cells named after the same block
            name = f"{name} (grid cell {r['unit_id']})"
        seen.add(name)
        out.append(f"{name}: {plural(int(r['n']), kind + NOUN[dataset])}{group} in the last {window} days.")
    return out


def repeat_addresses(c: Ctx, agency: str, dataset: str = "calls") -> list[str]:
    cols = table_columns(c.con, "marts.repeat_location_rows")
    if not cols:
        return []
    avail = fetch(c.con, "SELECT DISTINCT origin FROM marts.repeat_location_rows WHERE agency = ? "
                         "AND dataset = ? AND category_group = 'all'", [agency, dataset])
    origin = pick(sorted(r["origin"] for r in avail), [c.origin, "all"])
    label = "coalesce(location_label, address_block, location_key)" if "location_label" in cols \
        else "coalesce(address_block, location_key)"
    block = "address_block" if "address_block" in cols else "NULL"
    rows = fetch(c.con, f"""SELECT {label} AS place, {block} AS block, n_repeat_window AS n
                            FROM marts.repeat_location_rows
                            WHERE agency = ? AND dataset = ? AND category_group = 'all' AND origin = ?
                            ORDER BY rank, n_repeat_window DESC LIMIT ?""", [agency, dataset, origin, TOP])
    days = c.settings.sara.analysis.repeat_window_days
    return [f"{r['place']}" + (f" ({r['block']})" if r["block"] and r["block"] != r["place"] else "")
            + f": {plural(int(r['n'] or 0), NOUN[dataset])} in the last {days} days." for r in rows]


DEFAULT_SENSITIVE = {"DRUGS", "TRAFFIC_STOP", "FIELD_INTERVIEW", "WARRANT"}


def pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def audit_sentence(c: Ctx, agency: str, dataset: str = "calls") -> list[str]:
    """Who drives the map (marts.hotspot_audit), in one sentence: the hot cells of the default window and the
    top repeat places, the share of their events that are officer-initiated and in the enforcement-sensitive
    natures, and how many hot cells would not be hot on community calls alone."""
    if not table_columns(c.con, "marts.hotspot_audit"):
        return []
    rows = {r["scope"]: r for r in fetch(c.con, """
        SELECT * FROM marts.hotspot_audit WHERE agency = ? AND dataset = ?
          AND (scope = 'top_places' OR window_days = ?)""", [agency, dataset, default_slice(c.settings).window_days])}
    if not rows:
        return []
    hot, top = rows.get("hot_cells"), rows.get("top_places")
    codes = set((hot or top)["sensitive_natures"] or [])
    sensitive = ("drug calls, traffic or pedestrian stops or warrants" if codes == DEFAULT_SENSITIVE
                 else "in the enforcement-sensitive natures (" + ", ".join(sorted(codes)) + ")")

    def shares(r: dict) -> str:
        words = DATASET_WORDS[dataset]
        text = (f"the {words} record no community/officer origin" if is_missing(r["officer_share"])
                else f"{pct(r['officer_share'])} of {words} were officer-initiated")
        if not is_missing(r["sensitive_share"]):
            text += f" and {pct(r['sensitive_share'])} were {sensitive}"
        return text

    parts = []
    if hot is not None and hot["n_units"]:
        part = (f"Of the {plural(int(hot['n_units']), 'hot cell')} (99% Gi*, every origin) in the last "
                f"{hot['window_days']} days, {shares(hot)}")
        if not is_missing(hot["n_not_hot_on_community"]):
            n = int(hot["n_not_hot_on_community"])
            part += (f"; {n:,} would not be hot on community calls alone" if n
                     else "; every one is hot on community calls alone too")
        parts.append(part)
    elif hot is not None:
        parts.append(f"No 99% hot cell of {DATASET_WORDS[dataset]} in the last {hot['window_days']} days")
    if top is not None and top["n_units"] and top["n_events"]:
        parts.append(f"at the top {plural(int(top['n_units']), 'repeat place')} (last {top['window_days']} days), "
                     f"{shares(top)}")
    if not parts:
        return []
    text = "; ".join(parts)
    return [text[0].upper() + text[1:] + "."]


def problems(c: Ctx, agency: str) -> list[str]:
    cols = table_columns(c.con, "marts.problem_assessment")
    if not cols or "sentence" not in cols:
        return []
    rows = fetch(c.con, "SELECT problem, sentence FROM marts.problem_assessment WHERE agency = ? ORDER BY problem",
                 [agency])
    return [f"{r['problem']}: {r['sentence'] or 'no assessment yet'}" for r in rows]


def feed_health(c: Ctx, agency: str, as_of: date) -> list[str]:
    if not table_columns(c.con, "marts.coverage"):
        return []
    out = []
    daily = bool(table_columns(c.con, "marts.coverage_daily"))
    for r in fetch(c.con, "SELECT dataset, source, last_complete_day FROM marts.coverage WHERE agency = ? "
                          "ORDER BY dataset, source", [agency]):
        what = f"{what_words(r['dataset'], 'all').split(',')[0]} ({r['source']})"
        last = r["last_complete_day"]
        behind = (as_of - last).days if last is not None else None
        short = f", {plural(behind, 'day')} short of the as-of date" if behind is not None and behind > 0 else ""
        text = f"{what}: complete to {last}{short}"
        if daily:
            n = fetch(c.con, """SELECT count(*) AS n FROM marts.coverage_daily WHERE agency = ? AND source = ?
                                AND is_outage AND local_date BETWEEN ? AND ?""",
                      [agency, r["source"], as_of - timedelta(days=27), as_of])[0]["n"]
            text += f"; {n} outage days in the last 28 days" if n else "; no outage in the last 28 days"
        out.append(text + ".")
    bad = [(m, *v) for (m, a), v in c.status.items() if a == agency and v[0] in ("empty", "partial")]
    if bad:
        out.append("Incomplete: " + "; ".join(f"{MART_WORDS.get(m, m)} ({STATE_WORDS.get(s, s).lower()})"
                                              for m, s, _ in sorted(bad)) + ". The sections below say why.")
    return out


def _part(title: str, fn: Callable[[], list[str]], empty: str) -> str:
    try:
        lines = fn()
    except Exception as exc:  # one part failing must not hide the others
        return f"<div><h4>{esc(title)}</h4>{not_available(exc)}</div>"
    if not lines:
        return f'<div><h4>{esc(title)}</h4><p class="na">{esc(empty)}</p></div>'
    return f"<div><h4>{esc(title)}</h4><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul></div>"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _reason(c: Ctx, mart: str, agency: str, default: str) -> str:
    state, why = c.status.get((mart, agency), ("ok", None))
    return f"{STATE_WORDS.get(state, state)}: {why}." if state != "ok" and why else default


def section_summary(c: Ctx) -> str:
    out = []
    for ag in c.names:
        as_of = c.agency_as_of(ag)
        parts = []
        have = bool(table_columns(c.con, "marts.compstat"))
        for period, title in (("week", "Biggest increases this week"), ("28d", "Biggest increases, last 28 days")):
            why = _no_comparison(c, ag, period) if have else "Not available: marts.compstat is not in the warehouse."
            parts.append(_part(title, lambda a=ag, p=period, h=have: increases(c, a, p) if h else [],
                               why or "No increase against last year."))
        ds = main_dataset(c, ag)
        words = DATASET_WORDS[ds]
        parts.append(_part(f"New and emerging hot spots ({words}, all categories)",
                           lambda a=ag, d=ds: new_hot_spots(c, a, d),
                           _reason(c, "emerging_hotspots", ag, "None this week.")))
        parts.append(_part(f"Hottest places now (99% Gi* hot spots, {words})", lambda a=ag, d=ds: hot_now(c, a, d),
                           _reason(c, "hotspots", ag, f"No 99% hot spot with {words} of its own.")))
        parts.append(_part(f"Top repeat addresses ({words}, all categories)",
                           lambda a=ag, d=ds: repeat_addresses(c, a, d),
                           _reason(c, "repeat_locations", ag, "No repeat addresses.")))
        parts.append(_part(f"Who drives the map ({words})", lambda a=ag, d=ds: audit_sentence(c, a, d),
                           _reason(c, "hotspot_audit", ag, "No hot-spot audit for this agency.")))
        parts.append(_part("Tracked problems", lambda a=ag: problems(c, a),
                           _reason(c, "problem_assessment", ag, "No tracked problem.")))
        parts.append(_part("Feed health", lambda a=ag, d=as_of: feed_health(c, a, d),
                           "Not available: no coverage figures in the warehouse."))
        out.append(f'<div class="agency"><h3>{esc(c.name(ag))}, to {esc(as_of.isoformat())}</h3>'
                   f'<div class="cols">{"".join(parts)}</div></div>')
    rule = (f'<p class="how">An increase is "likely real" when its Poisson z is at least {Z_LIMIT:g} and one of the '
            f"two counts is at least {MIN_COUNT}; a percentage is shown only when last year had at least "
            f"{MIN_COUNT}. Hot spots are named after the most frequent block address of their events.</p>")
    return "".join(out) + rule
