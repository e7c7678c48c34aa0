-- Input of marts.kde: the located events inside the grid and their agency's range (inputs/grid_range_events.sql)
-- counted per point: one row per agency x dataset x category group x origin x point (x, y in the analysis CRS)
-- with its n events, the kernel's weight. Many events share a point (a repeat address, a block centroid), so
-- this is far shorter than the events. They are counted per category and origin first, and the counts fan out
-- to category groups and origins (inputs/fan_out.sql).
-- Variables: ranges (as inputs/range_events.sql).
with events as (
/*{model inputs/grid_range_events}*/
),
fan_in as (
    select agency, dataset, category, origin, x, y, count(*) as n
    from events
    group by all
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, dataset, category_group, origin_dim as origin, x, y, cast(sum(n) as bigint) as n
    from fanned
    group by all
)
select * from final;
