-- marts.periods: one row per configured agency (marts.agency_zones): the as_of date its marts end at, and how
-- it was chosen. This is the one place the as_of rule is computed.
-- The rule ('data'): last_event_day = the latest local date (agency zone) of the agency's countable, non-void
-- events (coverage_days: times flagged future, before_floor or sentinel_* are left out). It is a complete day
-- when the newest extract of the agency's loaded files (meta.loads.extract_at, UTC) is at or after the local
-- midnight that ends it; otherwise the complete day is the one before. as_of = min(last complete day, local
-- today - 1) - data_lag_days. Overrides, strongest first: a date given to the build ('given'), the agency's
-- own [agencies.<code>] as_of ('agency config'), [time] as_of ('global config'). An agency with no events and
-- no override has no as_of (rule 'no events'): its marts are empty.
-- Variables: given_as_of, global_as_of (dates, or null), overrides (a list of {agency, agency_as_of}),
-- source_agencies (a list of {source, agency}: the configured sources), data_lag_days, now_utc (the run's
-- clock, TIMESTAMPTZ).
create or replace table marts.periods as
with zones as (
    select * from marts.agency_zones
),
days as (
    select * from coverage_days
),
loads as (
    select * from meta.loads where status = 'loaded'
),
overrides as (
    select o.agency, o.agency_as_of
    from (select unnest(cast(getvariable('overrides') as struct(agency varchar, agency_as_of date)[])) as o)
),
source_agencies as (
    select s.source, s.agency
    from (select unnest(cast(getvariable('source_agencies') as struct(source varchar, agency varchar)[])) as s)
),
last_events as (
    select agency, min(local_date) as first_event_day, max(local_date) as last_event_day
    from days
    group by agency
),
newest_extracts as (
    select sa.agency, max(l.extract_at) as newest_extract_at
    from loads l
    join source_agencies sa using (source)
    group by sa.agency
),
complete as (
    select z.agency, z.timezone, e.first_event_day, e.last_event_day, x.newest_extract_at,
           case when x.newest_extract_at >= timezone(z.timezone, cast(e.last_event_day + 1 as timestamp))
                then e.last_event_day
                else e.last_event_day - 1
           end as last_complete_day,
           cast(timezone(z.timezone, cast(getvariable('now_utc') as timestamptz)) as date) - 1 as local_yesterday
    from zones z
    left join last_events e using (agency)
    left join newest_extracts x using (agency)
),
given as (
    select cast(getvariable('given_as_of') as date) as given_as_of,
           cast(getvariable('global_as_of') as date) as global_as_of,
           cast(getvariable('data_lag_days') as integer) as data_lag_days
),
final as (
    select c.agency,
           case when g.given_as_of is not null then g.given_as_of
                when o.agency_as_of is not null then o.agency_as_of
                when g.global_as_of is not null then g.global_as_of
                when c.last_event_day is not null
                then cast(least(c.last_complete_day, c.local_yesterday) - g.data_lag_days as date)
           end as as_of,
           case when g.given_as_of is not null then 'given'
                when o.agency_as_of is not null then 'agency config'
                when g.global_as_of is not null then 'global config'
                when c.last_event_day is not null then 'data'
                else 'no events'
           end as rule,
           c.first_event_day, c.last_event_day, c.last_complete_day, c.newest_extract_at,
           g.data_lag_days,
           c.local_yesterday as local_today_minus_1
    from complete c
    cross join given g
    left join overrides o using (agency)
)
select * from final
order by agency;

comment on table marts.periods is 'one row per agency: as_of, the last local date its marts end at, and rule, how it was chosen: data = min(last_complete_day, local today - 1) - data_lag_days; agency config / global config = [agencies.<code>] as_of / [time] as_of; given = a date given to the build; no events = none (its marts are empty). last_event_day = latest local date of its countable, non-void events; it is complete when newest_extract_at (UTC, the newest loaded extract of its sources) is at or after the local midnight ending it, else last_complete_day is the day before';
comment on column marts.periods.as_of is 'the last local date (agency zone) of the agency''s marts and windows; null with no events (rule no events)';
comment on column marts.periods.rule is 'how as_of was chosen: data, agency config, global config, given or no events';
comment on column marts.periods.first_event_day is 'earliest local date (agency zone) of the agency''s countable, non-void events in core';
comment on column marts.periods.last_event_day is 'latest local date (agency zone) of the agency''s countable, non-void events (flagged times left out)';
comment on column marts.periods.last_complete_day is 'last_event_day when the newest extract reaches the local midnight ending it, else the day before (local date)';
comment on column marts.periods.newest_extract_at is 'the newest extract time of the agency''s loaded files (meta.loads.extract_at), UTC';
comment on column marts.periods.data_lag_days is 'days subtracted under rule data ([time] data_lag_days)';
comment on column marts.periods.local_today_minus_1 is 'yesterday in the agency''s zone, from the run''s clock (as_of is never after it under rule data)';
