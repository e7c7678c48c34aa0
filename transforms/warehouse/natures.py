"""Call natures: the standard taxonomy (config/taxonomy/), the response model per nature and agency, the
nature columns of core.calls, and the suggester behind `sara crosswalk suggest`.

- `taxonomy()` reads config/taxonomy/call_natures.csv and checks it: unique codes, a known response model,
  one version string, `taxonomy_version()`.
- `load_natures` (called by enrich.load_crosswalks for a calls source) fills the session table _xw_natures
  of sql/core/natures.sql with the agency's response model per nature (the taxonomy's default, or its
  [agencies.<code>.response_models] override) and checks the call-type crosswalk's nature columns: a row
  marked `reviewed` must name a nature of the taxonomy; nature_status is reviewed, suggested or empty.
- `refresh_calls` sets call_nature, response_model and response_model_reason again on every call of the
  source already in core whose values differ (calls loaded before these columns existed, or before a
  crosswalk row was reviewed), so the nature of a call never depends on when it was loaded.
- `suggestions` proposes a nature for each code of a source that has none reviewed, from its text
  (transforms.stats.nature_rules); `score_crosswalk` measures the rules against a reviewed crosswalk.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from transforms.config import Settings, SourceConfig
from transforms.stats.nature_rules import RULE_KINDS, Rule, score, suggest
from transforms.warehouse.db import SQL_DIR

TAXONOMY_DIR = SQL_DIR.parent / "config" / "taxonomy"
RESPONSE_MODELS = ("police_required", "co_response", "alternative", "administrative")
NATURE_STATUSES = ("reviewed", "suggested")


def taxonomy(path: Path | None = None) -> pl.DataFrame:
    """The taxonomy's rows, checked."""
    path = path or TAXONOMY_DIR / "call_natures.csv"
    t = pl.read_csv(path, infer_schema=False)
    need = ["code", "label", "vera_group", "default_response_model", "violent_in_progress_possible", "version"]
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    dup = t.filter(pl.col("code").is_duplicated())["code"].unique().to_list()
    if dup:
        raise ValueError(f"{path}: nature code(s) {dup} listed more than once")
    bad = t.filter(~pl.col("default_response_model").is_in(RESPONSE_MODELS))
    if bad.height:
        raise ValueError(f"{path}: nature {bad['code'][0]}: default_response_model "
                         f"{bad['default_response_model'][0]!r} is not one of {RESPONSE_MODELS}")
    if t["version"].n_unique() != 1:
        raise ValueError(f"{path}: every row must carry the same version")
    return t.with_columns(pl.col("violent_in_progress_possible").str.to_lowercase().eq("true"))


def taxonomy_version() -> str:
    """The taxonomy's version string (its `version` column), recorded on marts.demand."""
    return taxonomy()["version"][0]


def agency_models(settings: Settings, agency: str) -> pl.DataFrame:
    """One row per nature: code, vera_group, response_model, model_from, violent_in_progress_possible."""
    t = taxonomy()
    cfg = settings.sara.agencies.get(agency)
    overrides = dict(cfg.response_models) if cfg is not None else {}
    unknown = sorted(set(overrides) - set(t["code"]))
    if unknown:
        raise ValueError(f"[agencies.{agency}.response_models]: {unknown} not a nature of "
                         f"config/taxonomy/call_natures.csv")
    return t.select(
        "code", "vera_group",
        pl.col("code").replace_strict(overrides, default=pl.col("default_response_model")).alias("response_model"),
        pl.when(pl.col("code").is_in(list(overrides)))
        .then(pl.lit(f"agency override ([agencies.{agency}.response_models])"))
        .otherwise(pl.lit("taxonomy default")).alias("model_from"),
        "violent_in_progress_possible",
    )


def load_natures(con: duckdb.DuckDBPyConnection, settings: Settings, src: SourceConfig,
                 call_types_path: Path | None) -> None:
    """_xw_natures and the nature macros (sql/core/natures.sql) for the source's agency; checks the nature
    columns of the call-type crosswalk already in _xw_call_types."""
    con.execute((SQL_DIR / "core" / "natures.sql").read_text(encoding="utf-8"))
    models = agency_models(settings, src.agency)
    con.register("_natures_df", models.to_arrow())
    con.execute("INSERT INTO _xw_natures BY NAME SELECT * FROM _natures_df")
    con.unregister("_natures_df")
    bad_status = con.execute(
        "SELECT _key, nature_status FROM _xw_call_types WHERE nullif(trim(nature_status), '') IS NOT NULL "
        "AND lower(trim(nature_status)) NOT IN ('reviewed', 'suggested') LIMIT 1").fetchone()
    if bad_status:
        raise ValueError(f"{call_types_path}: code {bad_status[0]}: nature_status {bad_status[1]!r} is not "
                         f"reviewed, suggested or empty")
    bad_nature = con.execute(
        "SELECT _key, call_nature FROM _xw_call_types WHERE lower(trim(nature_status)) = 'reviewed' "
        "AND (nullif(trim(call_nature), '') IS NULL OR trim(call_nature) NOT IN (SELECT code FROM _xw_natures)) "
        "LIMIT 1").fetchone()
    if bad_nature:
        raise ValueError(f"{call_types_path}: code {bad_nature[0]}: reviewed call_nature {bad_nature[1]!r} is "
                         f"not a nature of config/taxonomy/call_natures.csv")


def refresh_calls(con: duckdb.DuckDBPyConnection, source: str, has_call_types: bool) -> int:
    """Set the nature columns again on the source's calls in core.calls where they differ from what the
    current crosswalk and taxonomy give; returns the number of calls changed."""
    con.execute("SET VARIABLE sara_nature_source = ?", [source])
    con.execute("SET VARIABLE sara_nature_has_xw = ?", [has_call_types])
    try:
        return con.execute((SQL_DIR / "core" / "natures_refresh.sql").read_text(encoding="utf-8")).fetchone()[0]
    finally:
        con.execute("RESET VARIABLE sara_nature_source")
        con.execute("RESET VARIABLE sara_nature_has_xw")


# ---------------------------------------------------------------------------------------------- suggester
def read_rules(path: Path, origin: str) -> list[Rule]:
    """A rule list (kind, pattern, call_nature), checked against the taxonomy."""
    df = pl.read_csv(path, infer_schema=False)
    codes = set(taxonomy()["code"])
    rules = []
    for i, r in enumerate(df.iter_rows(named=True), start=2):
        if r["kind"] not in RULE_KINDS:
            raise ValueError(f"{path}, row {i}: kind {r['kind']!r} is not one of {RULE_KINDS}")
        if r["call_nature"] not in codes:
            raise ValueError(f"{path}, row {i}: call_nature {r['call_nature']!r} is not in the taxonomy")
        rules.append(Rule(r["kind"], r["pattern"], r["call_nature"], origin))
    return rules


def abbreviations() -> dict[str, str]:
    df = pl.read_csv(TAXONOMY_DIR / "abbreviations.csv", infer_schema=False)
    return {a.strip().upper(): e.strip().upper() for a, e in df.iter_rows()}


def rule_lists(settings: Settings | None, source: str, local: bool = True) -> list[Rule]:
    """The source's own list (config/taxonomy/local/<source>.csv of the project, else of sara) first, then
    the general list."""
    rules: list[Rule] = []
    if local:
        for base in ([settings.resolve("config/taxonomy/local")] if settings else []) + [TAXONOMY_DIR / "local"]:
            path = Path(base) / f"{source}.csv"
            if path.is_file():
                rules += read_rules(path, source)
                break
    return rules + read_rules(TAXONOMY_DIR / "rules.csv", "general")


def suggest_frame(codes: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """codes (code, text, n_calls) -> code, call_type, call_nature, nature_status, rule, n_calls."""
    abbr = abbreviations()
    rows = []
    for code, text, n in codes.select("code", "text", "n_calls").iter_rows():
        hit = suggest(text, rules, abbr)
        rows.append({"code": code, "call_type": text, "call_nature": hit.call_nature if hit else None,
                     "nature_status": "suggested" if hit else None,
                     "rule": hit.describe() if hit else "no rule matched: review by hand", "n_calls": n})
    return pl.DataFrame(rows, schema={"code": pl.String, "call_type": pl.String, "call_nature": pl.String,
                                      "nature_status": pl.String, "rule": pl.String, "n_calls": pl.Int64})


def unreviewed_codes(settings: Settings, src: SourceConfig, con: duckdb.DuckDBPyConnection | None) -> pl.DataFrame:
    """The source's codes with no reviewed nature: crosswalk rows not marked reviewed (text: code and
    call_type), and codes of its calls in the warehouse with no crosswalk row (text: the code), with how many
    calls each has there (0 without a warehouse)."""
    xw = pl.DataFrame({"code": [], "call_type": []}, schema={"code": pl.String, "call_type": pl.String})
    if src.crosswalks.call_types:
        xw = pl.read_csv(settings.resolve(src.crosswalks.call_types), infer_schema=False)
    for col in ("call_nature", "nature_status"):
        if col not in xw.columns:
            xw = xw.with_columns(pl.lit(None, pl.String).alias(col))
    xw = xw.with_columns(_key=pl.col("code").str.strip_chars().str.to_uppercase())
    counts = pl.DataFrame({"_key": [], "n_calls": [], "raw": []},
                          schema={"_key": pl.String, "n_calls": pl.Int64, "raw": pl.String})
    if con is not None:
        counts = con.execute(
            "SELECT upper(trim(call_type_code)) AS _key, count(*) AS n_calls, mode(call_type_code) AS raw "
            "FROM core.calls WHERE source = ? AND call_type_code IS NOT NULL GROUP BY 1", [src.name]).pl()
    open_rows = (xw.filter(pl.col("nature_status").str.strip_chars().str.to_lowercase().ne_missing("reviewed"))
                 .join(counts, on="_key", how="left")
                 .select("code", pl.concat_str(["code", "call_type"], separator=" ", ignore_nulls=True)
                         .alias("text"), pl.col("n_calls").fill_null(0)))
    not_listed = (counts.join(xw.select("_key"), on="_key", how="anti")
                  .select(pl.col("raw").alias("code"), pl.col("raw").alias("text"), "n_calls"))
    return pl.concat([open_rows, not_listed]).sort(["n_calls", "code"], descending=[True, False])


def score_crosswalk(reviewed: pl.DataFrame, rules: list[Rule]) -> dict[str, float | int]:
    """reviewed: code, call_type, call_nature, n_calls of a hand-reviewed crosswalk -> the rules' agreement
    (transforms.stats.nature_rules.score). The rules see the code only: a code nobody has reviewed has no
    readable call_type written by hand, so reading it would flatter the rules."""
    abbr = abbreviations()
    groups = dict(taxonomy().select("code", "vera_group").iter_rows())
    pairs = []
    for code, nature, n in reviewed.select("code", "call_nature", "n_calls").iter_rows():
        hit = suggest(code, rules, abbr)
        pairs.append((hit.call_nature if hit else None, nature, int(n or 0)))
    return score(pairs, groups)


def score_source(settings: Settings, src: SourceConfig, con: duckdb.DuckDBPyConnection | None
                 ) -> dict[str, dict[str, float | int]]:
    """The rules' agreement with the source's reviewed crosswalk rows, general rules alone and with the
    source's own list first, weighted by its calls in `con`'s core.calls (when given)."""
    if not src.crosswalks.call_types:
        raise ValueError(f"{src.name} has no call-type crosswalk (crosswalks.call_types)")
    path = settings.resolve(src.crosswalks.call_types)
    xw = pl.read_csv(path, infer_schema=False)
    if "nature_status" not in xw.columns or "call_nature" not in xw.columns:
        raise ValueError(f"{path} has no call_nature / nature_status columns: nothing is reviewed")
    xw = xw.filter(pl.col("nature_status").str.strip_chars().str.to_lowercase() == "reviewed").with_columns(
        _key=pl.col("code").str.strip_chars().str.to_uppercase())
    counts = pl.DataFrame(schema={"_key": pl.String, "n_calls": pl.Int64})
    if con is not None:
        counts = con.execute("SELECT upper(trim(call_type_code)) AS _key, count(*) AS n_calls FROM core.calls "
                             "WHERE source = ? GROUP BY 1", [src.name]).pl()
    xw = xw.join(counts, on="_key", how="left").with_columns(pl.col("n_calls").fill_null(0))
    return {"general rules": score_crosswalk(xw, rule_lists(settings, src.name, local=False)),
            f"{src.name} list + general rules": score_crosswalk(xw, rule_lists(settings, src.name, local=True))}
