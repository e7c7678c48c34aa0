-- marts.location_days kept up to date: only the places of the (agency, dataset, local date) a night touched are
-- rebuilt from core. A place on a day is touched when
--   * a row of core comes from a load not folded in yet (marts.location_day_loads): its place and day (a new
--     event, or the new version of one: updated, voided, moved to another day, place or category);
--   * that row replaced a version counted at another place or on another day (marts.location_day_events holds
--     each counted version's place and day): the old place and day;
--   * a counted version on a day near a new row's (one day either side: a source's zone may differ from the
--     agency's) is no longer in core with its load (an extract that replaces the days it covers drops the
--     events it no longer lists): its place and day.
-- A day's other places keep their rows: a re-delivered call of two years ago rebuilds one place on one day, not
-- the day.
-- Variables: none. Leaves the temporary table location_day_touched (agency, dataset, local_date, location_key)
-- for the caller (location_days_refill.sql reads it).
create or replace temp table location_day_new as
select 'calls' as dataset, c.source, c.call_id as event_id, c.agency, c.event_at, c.location_key, c.load_id
from core.calls c
where c.load_id not in (select load_id from marts.location_day_loads)
union all
select 'incidents', i.source, i.incident_id, i.agency, i.event_at, i.location_key, i.load_id
from core.incidents i
where i.load_id not in (select load_id from marts.location_day_loads);

create or replace temp table location_day_touched as
with new_places as (
    select distinct n.agency, n.dataset, cast(timezone(z.timezone, n.event_at) as date) as local_date,
           n.location_key
    from location_day_new n
    join marts.agency_zones z using (agency)
    where n.event_at is not null
),
replaced as (
    select s.agency, s.dataset, s.local_date, s.location_key
    from marts.location_day_events s
    semi join location_day_new n using (dataset, source, event_id)
),
near_days as (
    select distinct agency, dataset, local_date + d.d as local_date
    from new_places, (select unnest([-1, 0, 1]) as d) d
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
    select k.agency, k.dataset, k.local_date, k.location_key
    from candidates k
    anti join still_in_core s using (dataset, source, event_id, load_id)
)
select distinct agency, dataset, local_date, location_key
from (select * from new_places union all select * from replaced union all select * from dropped)
where location_key is not null;
