-- marts.location_days kept up to date: only the places of the (agency, dataset, local date) a night touched are
-- rebuilt from core. A place on a day is touched when
--   * a row of core comes from a load not folded in yet (marts.location_day_loads): its place and day (a new
--     event, or the new version of one: updated, voided, moved to another day, place or category);
--   * a counted version (marts.location_day_events holds each one's place and day) was replaced by such a row,
--     or its record has a version (core.call_versions, core.incident_versions) ended by a load not folded in yet
--     (an extract that replaces the days it covers drops the events it no longer lists, and their open version
--     ends): the counted version's place and day.
-- A day's other places keep their rows: a re-delivered call of two years ago rebuilds one place on one day, not
-- the day. The version history is read by its load columns only, never by day.
-- Variables: none. Leaves the temporary table location_day_touched (agency, dataset, local_date, location_key)
-- for the caller (location_days_refill.sql reads it); the caller then records the loads folded in
-- (sql/marts/location_day_loads.sql).
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
changed as (
    -- the records with a new row, and those with a version ended since (a dropped one has no new row); a late
    -- older version, ended by its own load (superseded at arrival), never was the one counted
    select dataset, source, event_id from location_day_new
    union
    select 'calls', v.source, v.call_id
    from core.call_versions v
    where v.ended_load_id not in (select load_id from marts.location_day_loads)
      and v.ended_load_id <> v.load_id
    union
    select 'incidents', v.source, v.incident_id
    from core.incident_versions v
    where v.ended_load_id not in (select load_id from marts.location_day_loads)
      and v.ended_load_id <> v.load_id
),
replaced as (
    select s.agency, s.dataset, s.local_date, s.location_key
    from marts.location_day_events s
    semi join changed c using (dataset, source, event_id)
)
select distinct agency, dataset, local_date, location_key
from (select * from new_places union all select * from replaced)
where location_key is not null;
