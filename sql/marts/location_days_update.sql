-- marts.location_days kept up to date: only the (agency, dataset, local date) a night touched are rebuilt from
-- core. A day is touched when
--   * a row of core comes from a load not folded in yet (marts.location_day_loads): its day (a new event, or
--     the new version of one: updated, voided, moved to another day, place or category);
--   * that row replaced a version counted on another day (marts.location_day_events holds each counted
--     version's day): the old day;
--   * a counted version on one of those days (one day either side: a source's zone may differ from the
--     agency's) is no longer in core with its load (an extract that replaces the days it covers drops the
--     events it no longer lists).
-- Variables: none. Leaves the temporary table location_day_touched (agency, dataset, local_date) and its UTC
-- bounds for the caller (location_days_refill.sql reads them).
create or replace temp table location_day_new as
select 'calls' as dataset, c.source, c.call_id as event_id, c.agency, c.event_at, c.load_id
from core.calls c
where c.load_id not in (select load_id from marts.location_day_loads)
union all
select 'incidents', i.source, i.incident_id, i.agency, i.event_at, i.load_id
from core.incidents i
where i.load_id not in (select load_id from marts.location_day_loads);

create or replace temp table location_day_touched as
with new_days as (
    select distinct n.agency, n.dataset, cast(timezone(z.timezone, n.event_at) as date) as local_date
    from location_day_new n
    join marts.agency_zones z using (agency)
    where n.event_at is not null
),
replaced as (
    select s.agency, s.dataset, s.local_date
    from marts.location_day_events s
    semi join location_day_new n using (dataset, source, event_id)
),
near_days as (
    select distinct agency, dataset, local_date + d.d as local_date
    from new_days, (select unnest([-1, 0, 1]) as d) d
),
candidates as (
    select s.*
    from marts.location_day_events s
    semi join near_days using (agency, dataset, local_date)
),
still_in_core as (
    select 'calls' as dataset, c.source, c.call_id as event_id, c.load_id
    from core.calls c
    semi join candidates k on k.dataset = 'calls' and k.source = c.source and k.event_id = c.call_id
    union all
    select 'incidents', i.source, i.incident_id, i.load_id
    from core.incidents i
    semi join candidates k on k.dataset = 'incidents' and k.source = i.source and k.event_id = i.incident_id
),
dropped as (
    select k.agency, k.dataset, k.local_date
    from candidates k
    anti join still_in_core s using (dataset, source, event_id, load_id)
)
select distinct agency, dataset, local_date
from (select * from new_days union all select * from replaced union all select * from dropped);
