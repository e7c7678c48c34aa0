-- Input of marts.emerging_hotspots: the located events inside their agency's range and the grid
-- (inputs/grid_range_events.sql) counted per grid cell and local date (agency zone): one row per agency x
-- dataset x category group x origin dimension x cell x day with its n events. They are counted per category and
-- origin first, and the counts fan out to category groups and origins (inputs/fan_out.sql), so the space-time
-- cube is filled from counts, not from one row per event and dimension.
-- Variables: ranges (as inputs/range_events.sql).
with events as (
/*{model inputs/grid_range_events}*/
),
fan_in as (
    select agency, dataset, category, origin, unit_id, local_date, count(*) as n
    from events
    group by all
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, dataset, category_group, origin_dim as origin, unit_id, local_date, cast(sum(n) as bigint) as n
    from fanned
    group by all
)
select * from final;
