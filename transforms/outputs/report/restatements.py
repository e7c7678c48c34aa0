"""'Restated since last week's report': the CompStat figures (agency and district) a past night published whose
count now differs, with the records that account for it (marts.restatements, marts.restatement_records).

The night compared with is the latest kept night published at least 7 days before the night of the page (the
latest in meta.published_compstat), else the oldest kept night, and the page says which. A figure is listed
when it moved by at least [analysis] restated_min_change events, in a sentence per unit, dataset and group that gives
each period that moved ("Recorded crimes, burglary, district 4, last 28 days: 31 → 29; 2 reclassified to Theft, 1
voided or unfounded, 1 late report added"; several periods share the reasons when they are the same, else each
period has its own in brackets); the records follow in a collapsible table. Beats stay in the marts (sara query).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from transforms.marts.restatements import NIGHTS
from transforms.outputs.report.markup import (
    PERIOD_WORDS,
    Missing,
    esc,
    fmt_value,
    html_table,
    local_time,
    what_words,
)
from transforms.outputs.report.reads import Ctx, fetch, require, table_columns

MAX_SENTENCES = 40  # per agency; the rest are counted
MAX_RECORDS = 200
WEEK = timedelta(days=7)
PERIOD_ORDER = {"week": 0, "28d": 1, "ytd": 2}
REASON_WORDS = {
    # (reason, delta) -> words; {new} / {old} are the record's values now and then
    ("reclassified", -1): "reclassified to {new}", ("reclassified", 1): "reclassified from {old}",
    ("voided or unfounded", -1): "voided or unfounded", ("restored", 1): "restored (no longer void)",
    ("disposition changed", -1): "disposition changed ({old} → {new})",
    ("disposition changed", 1): "disposition changed ({old} → {new})",
    ("retimed", -1): "retimed out of the period", ("retimed", 1): "retimed into the period",
    ("relocated", -1): "relocated to {new}", ("relocated", 1): "relocated from {old}",
    ("late report added", 1): "late report added", ("removed by a replaced extract", -1): "removed by a replaced "
                                                                                          "extract",
    ("moved to another agency", -1): "moved to another agency", ("moved to another agency", 1): "moved from another "
                                                                                                "agency",
}
PLURAL = {"late report added": "late reports added", "disposition changed": "dispositions changed",
          "removed by a replaced extract": "removed by a replaced extract"}  # the words' start, when n > 1


def _unit(unit_type: str, unit_id: str, value: str | None = None) -> str:
    if unit_type == "agency":
        return "agency-wide"
    v = unit_id if value is None else value
    return "no district recorded" if v in (None, "(unassigned)") else f"district {v}"


def _reason(r: dict, unit_type: str) -> str:
    words = REASON_WORDS.get((r["reason"], int(r["delta"])), r["reason"])
    old, new = r["old_value"], r["new_value"]
    if r["reason"] == "relocated":
        old, new = _unit(unit_type, "", old), _unit(unit_type, "", new)
    old, new = old or "(none)", new or "(none)"
    if "(" in words:  # no brackets inside brackets: "disposition changed (none, counted → CAN, not counted)"
        old, new = old.replace("(none)", "none"), new.replace("(none)", "none")
    return words.format(old=old, new=new)


def _counted(n: int, words: str) -> str:
    """'1 late report added', '3 late reports added'."""
    if n > 1:
        words = next((plural + words[len(one):] for one, plural in PLURAL.items() if words.startswith(one)), words)
    return f"{n} {words}"


def _day(ts: datetime, c: Ctx | None = None) -> str:
    """A publication time in the agencies' zone (UTC when they are in different zones)."""
    zones = {a.timezone for a in c.settings.sara.agencies.values()} if c is not None else set()
    return local_time(ts, zones.pop()) if len(zones) == 1 else ts.strftime("%Y-%m-%d %H:%M UTC")


def pick_night(nights: list[tuple]) -> tuple[tuple | None, bool]:
    """nights: (run_id, published_at) newest first, the first being the page's own. Returns the night to compare
    with and whether it is a week before (False: the oldest kept, a week is not kept yet); (None, False) when
    no earlier night is kept."""
    if len(nights) < 2:
        return None, False
    current = nights[0][1]
    week_before = [n for n in nights[1:] if n[1] <= current - WEEK]
    return (week_before[0], True) if week_before else (nights[-1], False)


def section_restatements(c: Ctx) -> str:
    require(c.con, "marts.restatements", ["run_id", "agency", "unit_type", "unit_id", "dataset", "category_group",
                                          "period", "value_then", "value_now", "change"])
    require(c.con, "marts.restatement_records", ["run_id", "record_id", "delta", "reason", "old_value",
                                                 "new_value"])
    if not table_columns(c.con, "meta.published_compstat"):
        raise Missing("no night's CompStat figures are kept yet (meta.published_compstat)")
    nights = [(r["run_id"], r["published_at"]) for r in fetch(
        c.con, """SELECT run_id, max(published_at) AS published_at FROM meta.published_compstat
                  WHERE published_at IS NOT NULL GROUP BY run_id ORDER BY 2 DESC""")]
    # the page's own night first, then the nights its marts looked back to (marts.restatements: the last 8)
    night, week = pick_night(nights[:1 + NIGHTS])
    if night is None:
        since = f" (figures are kept from {_day(nights[0][1], c)} on)" if nights else ""
        return (f"<p>No earlier night's figures are kept yet{esc(since)}: there is nothing to compare with. "
                "From the next night on, this section says which published counts have changed since.</p>")
    run_id, published = night
    threshold = c.settings.sara.analysis.restated_min_change
    head = (f"Compared with the figures published {_day(published, c)}"
            + (" (the night a week before this one)." if week else
               " (the oldest night kept: nights a week back are not kept yet)."))
    figures = fetch(c.con, """SELECT * FROM marts.restatements WHERE run_id = ? AND unit_type IN ('agency', 'district')
                              AND abs(change) >= ?""", [run_id, threshold])
    if not figures:
        return (f"<p>{esc(head)}</p><p>Nothing restated: no CompStat figure (agency or district) published then "
                f"differs by {threshold} or more from the same figure counted now.</p>")
    records = fetch(c.con, """SELECT r.* FROM marts.restatement_records r WHERE run_id = ?
                              AND unit_type IN ('agency', 'district')""", [run_id])
    by_fig: dict[tuple, list[dict]] = {}
    for r in records:
        by_fig.setdefault(_key(r), []).append(r)
    out = [f"<p>{esc(head)} Listed: figures that moved by {threshold} or more, agency-wide and by district.</p>"]
    shown: list[dict] = []
    for ag in [a for a in c.names if any(f["agency"] == a for f in figures)]:
        mine = sorted([f for f in figures if f["agency"] == ag],
                      key=lambda f: (f["unit_type"] != "agency", str(f["unit_id"]), f["dataset"],
                                     f["category_group"] != "all", f["category_group"],
                                     PERIOD_ORDER.get(f["period"], 9)))
        as_of = mine[0]["period_end"]
        families: dict[tuple, list[dict]] = {}  # one sentence per unit x dataset x group, its periods in order
        for f in mine:
            families.setdefault(_key(f)[:5], []).append(f)
        items = []
        for fam in list(families.values())[:MAX_SENTENCES]:
            whys = []
            for f in fam:
                recs = by_fig.get(_key(f), [])
                shown += recs
                whys.append(_why(f, recs))
            items.append(f"<li>{esc(_sentence(fam, whys))}</li>")
        more = len(families) - MAX_SENTENCES
        out.append(f"<h3>{esc(c.name(ag))}: the figures published then, to {esc(str(as_of))}</h3><ul class=\"restated\">{''.join(items)}"
                   + (f"<li>… and {more} more (marts.restatements)</li>" if more > 0 else "") + "</ul>")
    out.append(_records_table(shown))
    return "".join(out)


def _why(f: dict, recs: list[dict]) -> str:
    """The reasons of one figure's change: '2 reclassified to Theft, 1 voided or unfounded'."""
    reasons = Counter(_reason(r, f["unit_type"]) for r in recs)
    why = ", ".join(_counted(n, w) for w, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
    if f.get("unaccounted"):
        why += (", " if why else "") + f"{fmt_value(f['unaccounted'])} from a change of configuration"
    return why


def _sentence(fam: list[dict], whys: list[str]) -> str:
    """One figure's periods in a sentence: 'Calls for service, violent, agency-wide, last 7 days: 49 → 51, last 28
    days: 229 → 231; 2 reclassified from Disorder' when the periods moved for the same reasons; else each
    period's reasons in brackets after its numbers."""
    f0 = fam[0]
    moves = [f"{PERIOD_WORDS.get(f['period'], f['period'])}: {fmt_value(f['value_then'])} → {fmt_value(f['value_now'])}"
             for f in fam]
    head = f"{what_words(f0['dataset'], f0['category_group'])}, {_unit(f0['unit_type'], f0['unit_id'])}, "
    if len(set(whys)) == 1:
        return head + ", ".join(moves) + (f"; {whys[0]}" if whys[0] else "")
    return head + ", ".join(f"{m} ({w})" if w else m for m, w in zip(moves, whys, strict=True))


def _key(r: dict) -> tuple:
    return (r["agency"], r["unit_type"], r["unit_id"], r["dataset"], r["category_group"], r["period"])


def _records_table(records: list[dict]) -> str:
    """The records behind the listed figures, once each per change, in a collapsible table."""
    seen: dict[tuple, dict] = {}
    for r in records:
        k = (r["dataset"], r["source"], r["record_id"], r["reason"], r["old_value"], r["new_value"])
        old, new = r["old_value"] or "(not known)", r["new_value"] or "(none)"
        if r["reason"] == "relocated":
            old, new = _unit(r["unit_type"], "", r["old_value"]), _unit(r["unit_type"], "", r["new_value"])
        seen.setdefault(k, {"Data": what_words(r["dataset"], "all").split(",")[0], "Record": r["record_id"],
                            "Date": str(r["local_date"]), "What changed": r["reason"], "Before → after": f"{old} → {new}"})
    rows = sorted(seen.values(), key=lambda x: (x["Data"], x["What changed"], x["Date"], x["Record"]))
    more = len(rows) - MAX_RECORDS
    return (f"<details><summary>The records behind these changes ({len(rows)})</summary>"
            f"{html_table(rows[:MAX_RECORDS])}"
            + (f"<p>… and {more} more (marts.restatement_records).</p>" if more > 0 else "") + "</details>")
