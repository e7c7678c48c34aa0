-- Input of marts.temporal_profile, the point events of temporary table temporal_local
-- (inputs/temporal_local.sql) counted per hour-of-week slot: an event of exact time with no window puts its
-- whole weight on its start's slot, so they are summed here instead of going one by one through the aoristic
-- spreading (transforms.stats.aoristic). slot = weekday x 24 + hour of the local wall clock, Monday = 0: 0 =
-- Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00. One row per agency, dataset, category group, beat, district
-- and slot with n events; inputs/temporal_events.sql has every other event.
with events as (
    select * from temporal_local
    where is_point
),
final as (
    select agency, dataset, category_group, beat, district,
           cast((isodow(start_local) - 1) * 24 + hour(start_local) as smallint) as slot,
           count(*) as n
    from events
    group by all
)
select * from final;
