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
events as (
    select * from range_events where origin_dim = 'all'
),
zones as (
    select * from marts.agency_zones
),
local_times as (
    select e.agency, e.dataset, e.category_group, e.time_precision, e.beat, e.district,
           cast(sara_local(e.event_at, s.utc_offset_us, z.timezone) as timestamp) as start_local,
           cast(sara_local(e.occurred_to, t.utc_offset_us, z.timezone) as timestamp) as end_local
    from events e
    join zones z on z.agency = e.agency
    left join marts.agency_utc_offsets s on s.agency = e.agency and s.utc_day = sara_utc_day(e.event_at)
    left join marts.agency_utc_offsets t on t.agency = e.agency and t.utc_day = sara_utc_day(e.occurred_to)
)
select *,
       coalesce(time_precision = 'exact' and start_local is not null
                and (end_local is null or end_local <= start_local), false) as is_point
from local_times;
