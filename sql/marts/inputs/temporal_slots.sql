-- Input of marts.temporal_profile, the point events counted per hour-of-week slot: events of exact time with no
-- window (no end, or an end at or before the start) put their whole weight on their start's slot, so they are
-- summed here instead of going one by one through the aoristic spreading (transforms.stats.aoristic).
-- slot 0 = Monday 00:00-01:00 local wall clock ... 167 = Sunday 23:00-24:00 (1970-01-05 is a Monday; events
-- before it go through inputs/temporal_events.sql). One row per agency, dataset, category group, beat,
-- district and slot with n events; inputs/temporal_events.sql has every other event.
-- Variables: ranges (as inputs/temporal_events.sql).
with events as (
    select * from temporal_local
    where is_point
),
final as (
    select agency, dataset, category_group, beat, district,
           cast((epoch_us(start_local) - 345600000000) // 3600000000 % 168 as smallint) as slot,
           count(*) as n
    from events
    group by all
)
select * from final;
