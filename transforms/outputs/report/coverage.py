"""What the data covers, in the report: each agency's as_of and how it was chosen, each source's period, volume,
outage days, time precision and located share (marts.periods, marts.coverage, marts.coverage_daily); the
outage weeks the trend charts mark; and, for the data-quality section, how events were placed (share per geocode
method, marts.coverage_geocode) and the placeholder points found (marts.placeholder_points)."""

from __future__ import annotations

from datetime import date, timedelta

from transforms.outputs.report.markup import DATASET_WORDS, Missing, html_table, pct
from transforms.outputs.report.reads import Ctx, fetch, require, table_columns

RULE_WORDS = {"data": "last complete day of its data minus the lag", "agency config": "set for the agency in config",
              "global config": "set in config ([time] as_of)", "given": "given to the build",
              "no events": "none: no events"}


def section_coverage(c: Ctx) -> str:
    require(c.con, "marts.coverage", ["agency", "dataset", "source", "first_day", "last_complete_day",
                                      "n_outage_days"])
    rows = fetch(c.con, "SELECT * FROM marts.coverage ORDER BY agency, dataset, source")
    if not rows:
        raise Missing("marts.coverage has no rows")
    out = []
    if table_columns(c.con, "marts.periods"):
        per = fetch(c.con, "SELECT agency, as_of, rule, last_event_day, last_complete_day FROM marts.periods "
                           "ORDER BY agency")
        out.append("<h3>As of</h3>" + html_table([
            {"Agency": c.name(r["agency"]), "As of": r["as_of"], "Chosen by": RULE_WORDS.get(r["rule"], r["rule"]),
             "Last event day": r["last_event_day"], "Last complete day": r["last_complete_day"]} for r in per]))
    table = []
    for r in rows:
        outage = ""
        if r["n_outage_days"]:
            outage = f"{r['n_outage_days']:,} ({r['first_outage_day']} to {r['last_outage_day']})"
        table.append({
            "Agency": c.name(r["agency"]), "Data": DATASET_WORDS.get(r["dataset"], r["dataset"]).capitalize(),
            "Source": r["source"], "Data from": r["first_day"], "Last complete day": r["last_complete_day"],
            "Events": r.get("n_events"), "Days covered": r.get("days_covered"),
            "Outage days": outage or "none",
            "Located": pct(r.get("located_share")), "Exact time": pct(r.get("share_exact")),
            "Date only": pct(r.get("share_date_only")), "Unknown time": pct(r.get("share_unknown_time"))})
    out.append("<h3>Sources</h3>" + html_table(table))
    return "".join(out)


def outage_weeks(c: Ctx, agency: str, dataset: str, as_of: date, weeks: int) -> list[int]:
    """The weeks (0 = the first of `weeks` ending at as_of) holding a day the dataset's data does not cover:
    an outage day, or a day outside every source's period (marts.coverage_daily)."""
    if not table_columns(c.con, "marts.coverage_daily"):
        return []
    start = as_of - timedelta(days=7 * weeks - 1)
    covered = {r["local_date"] for r in fetch(
        c.con, "SELECT DISTINCT local_date FROM marts.coverage_daily WHERE agency = ? AND dataset = ? "
               "AND NOT is_outage AND local_date BETWEEN ? AND ?", [agency, dataset, start, as_of])}
    return [w for w in range(weeks)
            if any(start + timedelta(days=7 * w + i) not in covered for i in range(7))]


METHOD_WORDS = {"feed": "the feed's own point", "history": "history (the address located before)",
                "intersection": "intersection of two named streets", "interpolated": "house number on a learned range",
                "block": "middle of a learned block", "street": "street centroid only",
                "placeholder": "on a placeholder point (left out of hot spots)", "unlocated": "not located"}


def placement(c: Ctx) -> str:
    """How each source's events were placed: the share per geocode method, placeholder and unlocated, with the
    median precision (marts.coverage_geocode)."""
    require(c.con, "marts.coverage_geocode", ["agency", "dataset", "source", "method", "n_events", "share",
                                              "median_precision_m"])
    rows = fetch(c.con, "SELECT * FROM marts.coverage_geocode ORDER BY agency, dataset, source, n_events DESC")
    if not rows:
        raise Missing("marts.coverage_geocode has no rows")
    return html_table([{
        "Agency": c.name(r["agency"]), "Data": DATASET_WORDS.get(r["dataset"], r["dataset"]).capitalize(),
        "Source": r["source"], "Placed by": METHOD_WORDS.get(r["method"], r["method"]), "Events": r["n_events"],
        "Share": pct(r["share"]),
        "Median precision": "exact (feed)" if r["median_precision_m"] is None and r["method"] == "feed"
        else (f"{r['median_precision_m']:,.0f} m" if r["median_precision_m"] is not None else "")} for r in rows])


def placeholders(c: Ctx) -> str:
    """The points found to be placeholders (not locations), with the share of the agency's events each holds
    (marts.placeholder_points)."""
    require(c.con, "marts.placeholder_points", ["agency", "lon", "lat", "n_events", "n_addresses",
                                                "share_of_events"])
    rows = fetch(c.con, "SELECT * FROM marts.placeholder_points ORDER BY agency, n_events DESC LIMIT 20")
    if not rows:
        return ("<p>No placeholder points: no exact point carries far more events and addresses than any real "
                "place.</p>")
    return "<p>Left out of the hot spots and spatial units by default ([analysis] keep_placeholders).</p>" + \
        html_table([{"Agency": c.name(r["agency"]), "Point (lon, lat)": f"{r['lon']:.5f}, {r['lat']:.5f}",
                     "Events": r["n_events"], "Distinct addresses": r["n_addresses"],
                     "Share of located events": f"{100 * r['share_of_events']:.1f}%"} for r in rows])
