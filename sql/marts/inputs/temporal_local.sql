-- The local times of marts.temporal_profile's events (a temporary table temporal_local, read by
-- inputs/temporal_events.sql and inputs/temporal_slots.sql): one row per event x category group (origin all)
-- inside its agency's range, its start (event_at) and end (occurred_to, incidents' windows) as local wall-clock
-- times of the agency zone (TIMESTAMP without zone), and is_point: an event of exact time with no window (no
-- end, or an end at or before its start), whose whole weight is on its start's hour.
-- Variables: ranges (as inputs/range_events.sql).
create or replace temp table temporal_local as
with range_events as (
/*{model inputs/range_events}*/
),
zones as (
    select * from marts.agency_zones
),
-- the local times of each event once, then the fan-out to category groups (inputs/fan_out.sql, origin all)
local_times as (
    select e.agency, e.dataset, e.category, e.origin, e.time_precision, e.beat, e.district,
           cast(sara_local(e.event_at, s.utc_offset_us, z.timezone) as timestamp) as start_local,
           cast(sara_local(e.occurred_to, t.utc_offset_us, z.timezone) as timestamp) as end_local
    from range_events e
    join zones z on z.agency = e.agency
    left join marts.agency_utc_offsets s on s.agency = e.agency and s.utc_day = sara_utc_day(e.event_at)
    left join marts.agency_utc_offsets t on t.agency = e.agency and t.utc_day = sara_utc_day(e.occurred_to)
),
fan_in as (
    select * from local_times
),
fanned as (
/*{model inputs/fan_out}*/
),
events as (
    select agency, dataset, category_group, time_precision, beat, district, start_local, end_local
    from fanned
    where origin_dim = 'all'
)
select *,
       coalesce(time_precision = 'exact' and start_local is not null
                and (end_local is null or end_local <= start_local), false) as is_point
from events;
