-- The crosswalks of the source being normalized: six session temp tables, one row per code, keyed by the
-- code trimmed and upper-cased (_key). They always exist, with these columns whatever the CSV holds (a
-- column the CSV lacks is null); a source without a crosswalk leaves its table empty, so the core SQL joins
-- every table without a branch per source. transforms/warehouse/enrich.py fills them from the CSVs.
create or replace temp table _xw_call_types (
    _key varchar,
    call_type varchar,
    call_category varchar,
    origin varchar,
    call_nature varchar,
    nature_status varchar
);

create or replace temp table _xw_dispositions (
    _key varchar,
    disposition_category varchar,
    countable varchar,
    void varchar
);

create or replace temp table _xw_priorities (
    _key varchar,
    priority_level varchar
);

create or replace temp table _xw_offenses (
    _key varchar,
    offense varchar,
    offense_category varchar,
    crime_against varchar,
    severity_rank varchar
);

-- the feed's own beat / district values -> the names the polygon layers use
create or replace temp table _xw_beats (
    _key varchar,
    beat varchar
);

create or replace temp table _xw_districts (
    _key varchar,
    district varchar
);
