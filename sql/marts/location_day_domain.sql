-- location_day_domain (a temporary view, the input of marts.location_days and marts.location_day_events): one
-- row per non-void call and incident of core with a location_key and an event time, countable or not, with its
-- local date (agency zone, marts.agency_zones; an agency not configured has no rows). The point (x, y, lon, lat)
-- is kept only for a located event, as the repeat-location mode reads it.
create or replace temp view location_day_domain as
with calls as (
    select 'calls' as dataset, c.source, c.call_id as event_id, c.load_id, c.agency, c.event_at,
           c.call_category as category, c.origin, c.is_countable, c.location_key, c.address_block, c.is_located,
           c.x, c.y, c.lon, c.lat
    from core.calls c
    where not c.is_void and c.location_key is not null and c.event_at is not null
),
incidents as (
    select 'incidents' as dataset, i.source, i.incident_id, i.load_id, i.agency, i.event_at,
           i.offense_category, i.origin, true, i.location_key, i.address_block, i.is_located,
           i.x, i.y, i.lon, i.lat
    from core.incidents i
    where not i.is_void and i.location_key is not null and i.event_at is not null
),
unioned as (
    select * from calls
    union all
    select * from incidents
),
final as (
    select u.dataset, u.source, u.event_id, u.load_id, u.agency, u.event_at, u.category, u.origin, u.is_countable,
           u.location_key, u.address_block, coalesce(u.is_located, false) as is_located,
           case when u.is_located then u.x end as x, case when u.is_located then u.y end as y,
           case when u.is_located then u.lon end as lon, case when u.is_located then u.lat end as lat,
           cast(sara_local(u.event_at, o.utc_offset_us, z.timezone) as date) as local_date
    from unioned u
    join marts.agency_zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = u.agency and o.utc_day = sara_utc_day(u.event_at)
)
select * from final;
