-- coverage_days (a temporary table, the input of marts.periods, marts.coverage_daily and marts.coverage): one
-- row per agency x dataset x source x local date (agency zone) with at least one countable, non-void event in
-- core, over all of history (not only the marts' horizon): one GROUP BY on the local date.
-- The events are the ones the marts count (calls countable and not void, incidents not void); an event whose
-- time is flagged future, before_floor or sentinel_* is left out, since its date is not a date of the feed.
-- n splits into n_exact, n_date_only and n_unknown_time by time_precision; n_located counts located events;
-- first_event_at and last_event_at are UTC.
create or replace temp table coverage_days as
with calls as (
    select 'calls' as dataset, c.agency, c.source, c.event_at, c.time_precision, c.time_issue, c.is_located
    from core.calls c
    where c.is_countable and not c.is_void
),
incidents as (
    select 'incidents' as dataset, i.agency, i.source, i.event_at, i.time_precision, i.time_issue, i.is_located
    from core.incidents i
    where not i.is_void
),
zones as (
    select * from marts.agency_zones
),
unioned as (
    select * from calls
    union all
    select * from incidents
),
dated as (
    select u.*, cast(sara_local(u.event_at, o.utc_offset_us, z.timezone) as date) as local_date
    from unioned u
    join zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = u.agency and o.utc_day = sara_utc_day(u.event_at)
    where not coalesce(list_has_any(string_split(u.time_issue, ','), ['future', 'before_floor']), false)
      and not contains(coalesce(u.time_issue, ''), 'sentinel_')
),
final as (
    select agency, dataset, source, local_date,
           count(*) as n,
           count(*) filter (where time_precision = 'exact') as n_exact,
           count(*) filter (where time_precision = 'date_only') as n_date_only,
           count(*) filter (where time_precision = 'unknown_time') as n_unknown_time,
           count(*) filter (where is_located) as n_located,
           min(event_at) as first_event_at,
           max(event_at) as last_event_at
    from dated
    group by all
)
select * from final;
