-- marts.changes and marts.changes_summary (sara issue 18): what the nights changed, from the version history.
-- Variables: changes_days (horizon: the loads published within this many days of the newest load),
-- late_arrival_days, window_days (the reclassified share), warn_share, min_records.
-- The changed kinds are core.version_changes' (consecutive current versions), on the changed records only; late
-- arrivals are new records (version 1) of a load that is not its source's first (the backfill), dated more than
-- late_arrival_days before the load's night (its extract time, else its load time, as a local date in the
-- agency's zone).
create or replace temp table _chg_loads as
with l as (
    select l.load_id, l.source, l.run_id, l.extract_at, l.loaded_at,
           coalesce(r.started_at, l.loaded_at) as run_started_at
    from meta.loads l left join meta.runs r on r.run_id = l.run_id
),
first_load as (
    select source, arg_min(load_id, loaded_at) as load_id from meta.loads where rows_loaded > 0 group by source
)
select l.*, l.load_id in (select load_id from first_load) as is_first_load,
       l.run_started_at >= (select max(run_started_at) from l)
           - to_days(cast(getvariable('window_days') as integer)) as in_window
from l
where l.run_started_at >= (select max(run_started_at) from l) - to_days(cast(getvariable('changes_days') as integer));

-- the records a load of the horizon gave a new current version (not their first): only their versions are read
-- below, so the nightly cost follows the records that changed, not the whole history (core.version_changes
-- compares every version of every record)
create or replace temp table _chg_recs as
select distinct 'call' as record_kind, source, call_id as record_id from core.call_versions
where version_seq > 1 and ended_load_id is distinct from load_id and load_id in (select load_id from _chg_loads)
union all
select distinct 'incident', source, incident_id from core.incident_versions
where version_seq > 1 and ended_load_id is distinct from load_id and load_id in (select load_id from _chg_loads);

-- the kept fields of each version of those records that was current at some time (a version superseded at
-- arrival never was), with the fields of the version current before it
create or replace temp table _chg_pairs as
with v as (
    select 'call' as record_kind, source, call_id as record_id, version_seq, load_id, agency, event_at,
           call_category as category, call_type_code as code, disposition, disposition_category, is_countable,
           is_void, location_key, x, y, beat, district
    from core.call_versions
    where ended_load_id is distinct from load_id
      and (source, call_id) in (select (source, record_id) from _chg_recs where record_kind = 'call')
    union all
    select 'incident', source, incident_id, version_seq, load_id, agency, event_at, offense_category, offense_code,
           null, null, null, is_void, location_key, x, y, beat, district
    from core.incident_versions
    where ended_load_id is distinct from load_id
      and (source, incident_id) in (select (source, record_id) from _chg_recs where record_kind = 'incident')
)
select *, lag(version_seq) over w as seq0, lag(category) over w as category0, lag(code) over w as code0,
       lag(disposition) over w as disposition0, lag(disposition_category) over w as disposition_category0,
       lag(is_countable) over w as is_countable0, lag(is_void) over w as is_void0,
       lag(location_key) over w as location_key0, lag(x) over w as x0, lag(y) over w as y0, lag(beat) over w as beat0,
       lag(district) over w as district0, lag(event_at) over w as event_at0
from v window w as (partition by record_kind, source, record_id order by version_seq);

-- the kinds of change of the horizon's loads, by the comparisons of core.version_changes (tested equal to it)
create or replace temp table _chg_kinds as
select p.record_kind, p.source, p.record_id, p.load_id, c.kind
from _chg_pairs p, lateral (values
    ('reclassified', p.category0 is distinct from p.category or p.code0 is distinct from p.code),
    ('disposition', p.record_kind = 'call' and (p.disposition_category0 is distinct from p.disposition_category
                    or p.disposition0 is distinct from p.disposition
                    or p.is_countable0 is distinct from p.is_countable)),
    (case when p.is_void then 'voided or unfounded' else 'restored' end, p.is_void0 is distinct from p.is_void),
    ('relocated', p.location_key0 is distinct from p.location_key or p.x0 is distinct from p.x
                  or p.y0 is distinct from p.y),
    ('retimed', p.event_at0 is distinct from p.event_at)
) c(kind, changed)
where p.seq0 is not null and c.changed and p.load_id in (select load_id from _chg_loads);

create or replace temp macro pg_category(cat, code) as
    case when cat is null and code is null then 'no category'
         else coalesce(cat, '(no category)') || ' (' || coalesce(code, 'no code') || ')' end;
create or replace temp macro pg_disposition(cat, code, countable) as
    case when cat is null and code is null then 'no disposition'
         else coalesce(cat, '(no category)') || ' (' || coalesce(code, 'no code') || ')' end
    || ', ' || case when countable then 'counted' else 'not counted' end;
create or replace temp macro pg_place(district, beat, key) as
    'district ' || coalesce(district, '(none)') || ', beat ' || coalesce(beat, '(none)') || ': '
    || coalesce(key, '(no location)');
create or replace temp macro pg_local(ts, zone) as strftime(timezone(coalesce(zone, 'UTC'), ts), '%Y-%m-%d %H:%M');

-- one version's value of the field a kind of change is about, in words (the old and the new version alike)
create or replace temp macro pg_value(kind, category, code, disposition_category, disposition, countable, district,
                                      beat, location_key, event_at, zone, is_void) as
    case kind
        when 'reclassified' then pg_category(category, code)
        when 'disposition' then pg_disposition(disposition_category, disposition, countable)
        when 'relocated' then pg_place(district, beat, location_key)
        when 'retimed' then pg_local(event_at, zone)
        else case when is_void then 'void, deleted or unfounded' else 'valid' end
    end;

create or replace table marts.changes as
with changed as (
    select k.kind, k.load_id, p.record_kind, p.source, p.record_id, p.agency, p.event_at, z.timezone as zone,
           pg_value(k.kind, p.category0, p.code0, p.disposition_category0, p.disposition0, p.is_countable0,
                    p.district0, p.beat0, p.location_key0, p.event_at0, z.timezone, p.is_void0) as old_value,
           pg_value(k.kind, p.category, p.code, p.disposition_category, p.disposition, p.is_countable,
                    p.district, p.beat, p.location_key, p.event_at, z.timezone, p.is_void) as new_value
    from _chg_kinds k
    join _chg_pairs p on p.record_kind = k.record_kind and p.source = k.source and p.record_id = k.record_id
                     and p.load_id = k.load_id
    left join marts.agency_zones z on z.agency = p.agency
),
late as (
    select 'late arrival' as kind, v.load_id, v.record_kind, v.source, v.record_id, v.agency, v.event_at,
           z.timezone as zone, null as old_value,
           pg_category(v.category, v.code) || ', event ' || pg_local(v.event_at, z.timezone) || ', '
           || date_diff('day', cast(timezone(coalesce(z.timezone, 'UTC'), v.event_at) as date),
                        cast(timezone(coalesce(z.timezone, 'UTC'), coalesce(l.extract_at, l.loaded_at)) as date))
           || ' days before the load''s night' as new_value
    from (select 'call' as record_kind, source, call_id as record_id, load_id, agency, event_at,
                 call_category as category, call_type_code as code
          from core.call_versions where version_seq = 1 and load_id in (select load_id from _chg_loads
                                                                       where not is_first_load)
          union all
          select 'incident', source, incident_id, load_id, agency, event_at, offense_category, offense_code
          from core.incident_versions where version_seq = 1 and load_id in (select load_id from _chg_loads
                                                                           where not is_first_load)) v
    join _chg_loads l on l.load_id = v.load_id
    left join marts.agency_zones z on z.agency = v.agency
    -- a cheap bound first (more than N local days back is more than N - 1 days back in UTC, whatever the
    -- offsets), then the local dates
    where v.event_at < coalesce(l.extract_at, l.loaded_at)
                       - to_days(cast(getvariable('late_arrival_days') as integer) - 1)
      and date_diff('day', cast(timezone(coalesce(z.timezone, 'UTC'), v.event_at) as date),
                    cast(timezone(coalesce(z.timezone, 'UTC'), coalesce(l.extract_at, l.loaded_at)) as date))
          > cast(getvariable('late_arrival_days') as integer)
)
select l.run_id, l.run_started_at,
       cast(timezone(coalesce(c.zone, 'UTC'), coalesce(l.extract_at, l.loaded_at)) as date) as night_date,
       c.agency, c.record_kind || 's' as dataset, c.source, c.record_id, c.kind, c.old_value, c.new_value,
       c.load_id, cast(timezone(coalesce(c.zone, 'UTC'), c.event_at) as date) as event_date
from (select * from changed union all select * from late) c
join _chg_loads l on l.load_id = c.load_id
order by l.run_started_at, c.agency, c.source, c.record_id, c.kind;

-- per agency: the records the window's loads brought (a new record or a changed version) and those reclassified
create or replace table marts.changes_summary as
with loaded as (
    select agency, count(distinct (source, record_id)) as n from (
        select agency, source, call_id as record_id from core.call_versions
        where ended_load_id is distinct from load_id
          and load_id in (select load_id from _chg_loads where in_window)
        union all
        select agency, source, incident_id from core.incident_versions
        where ended_load_id is distinct from load_id
          and load_id in (select load_id from _chg_loads where in_window))
    group by agency
),
re as (
    select agency, count(distinct (dataset, source, record_id)) as n from marts.changes
    where kind = 'reclassified' and load_id in (select load_id from _chg_loads where in_window) group by agency
),
late as (
    select agency, count(*) as n from marts.changes
    where kind = 'late arrival' and load_id in (select load_id from _chg_loads where in_window) group by agency
)
select a.agency, cast(coalesce(ld.n, 0) as bigint) as records_loaded,
       cast(coalesce(re.n, 0) as bigint) as records_reclassified,
       cast(coalesce(late.n, 0) as bigint) as late_arrivals,
       case when ld.n > 0 then coalesce(re.n, 0) / ld.n end as reclassified_share,
       cast(getvariable('warn_share') as double) as warn_share,
       coalesce(ld.n >= cast(getvariable('min_records') as integer)
                and coalesce(re.n, 0) / ld.n > cast(getvariable('warn_share') as double), false) as is_warning
from marts.agency_zones a
left join loaded ld on ld.agency = a.agency
left join re on re.agency = a.agency
left join late on late.agency = a.agency
order by a.agency;

drop table if exists _chg_loads;
drop table if exists _chg_kinds;
drop table if exists _chg_recs;
drop table if exists _chg_pairs;
drop macro if exists temp.pg_value;
drop macro if exists temp.pg_category;
drop macro if exists temp.pg_place;
drop macro if exists temp.pg_local;
drop macro if exists temp.pg_disposition;

comment on table marts.changes is 'one row per record x kind of change x load, for the loads published within the last [versions] changes_days days (default 90) of the newest load (a horizon, so a big warehouse does not rescan its whole history every night): reclassified (category or code), disposition (calls: disposition category, code or countable flag), voided or unfounded, restored, relocated (location key or point; the values name the district and beat), retimed (event time), by the comparisons of core.version_changes; and late arrival: a new record (its first version) of a load that is not its source''s first (the backfill), whose event''s local date is more than [versions] late_arrival_days (default 7) before the load''s night. Old and new values in words, times in the agency''s local time';
comment on column marts.changes.run_id is 'the night (meta.runs.run_id) whose load changed the record; null for a load outside a run';
comment on column marts.changes.run_started_at is 'when the night (meta.runs) that loaded the change started, else the load time, UTC: known while the night builds its marts (its finish time is not)';
comment on column marts.changes.night_date is 'the load''s night: local date (agency zone) of its extract time, else its load time';
comment on column marts.changes.dataset is 'calls (core.calls) or incidents (core.incidents)';
comment on column marts.changes.record_id is 'call_id (calls) or incident_id (incidents) of the record in its source';
comment on column marts.changes.kind is 'reclassified, disposition, voided or unfounded, restored, relocated, retimed, or late arrival';
comment on column marts.changes.old_value is 'the value before, in words: category (code), or no category; disposition category (code), or no disposition, and counted or not counted (countable flag); valid or void, deleted or unfounded; district, beat: location; event time (local, agency zone). Null for a late arrival (a new record)';
comment on column marts.changes.new_value is 'the value after, in the same words; a late arrival: its category (code), event time (local) and how many days before the load''s night it happened';
comment on column marts.changes.load_id is 'the load (meta.loads.load_id) that brought the new version';
comment on column marts.changes.event_date is 'local date (agency zone) of the record''s event time, as the new version has it';
comment on table marts.changes_summary is 'one row per agency: the records the loads of the last [versions] reclassified_window_days days (default 28, back from the newest load; at most changes_days) brought, new or changed, and the share of them reclassified in those days; is_warning when the share is above [versions] reclassified_warn_share (a project choice, default 5 %) on at least reclassified_min_records records. Shown in the report''s data quality section and in sara status';
comment on column marts.changes_summary.records_loaded is 'records (calls and incidents) the window''s loads brought as a new record or a changed version; a first load (backfill) inside the window counts its records too';
comment on column marts.changes_summary.records_reclassified is 'records reclassified (category or code changed) by a load of the window (marts.changes)';
comment on column marts.changes_summary.late_arrivals is 'late arrivals (marts.changes) among the window''s loads';
comment on column marts.changes_summary.reclassified_share is 'records_reclassified / records_loaded; null when the window''s loads brought no records';
comment on column marts.changes_summary.warn_share is 'the share above which the agency is warned ([versions] reclassified_warn_share)';
comment on column marts.changes_summary.is_warning is 'the reclassified share is above warn_share, on at least [versions] reclassified_min_records records: usually a process problem worth a look';
comment on column marts.changes.agency is 'agency code (config [agencies.<code>]) of the record';
comment on column marts.changes.source is 'source feed name (config/sources/<source>.yaml)';
comment on column marts.changes_summary.agency is 'agency code (config [agencies.<code>])';
