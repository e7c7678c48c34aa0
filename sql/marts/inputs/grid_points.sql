-- Input of marts.kde: the located events of inputs/grid_events.sql (inside the grid, inside their agency's
-- range) counted per point: one row per agency x dataset x category group x origin x point (x, y in the
-- analysis CRS) with its n events, the kernel's weight. Many events share a point (a repeat address, a block
-- centroid), so this is far shorter than the events.
-- Variables: ranges (as inputs/grid_events.sql).
with events as (
/*{model inputs/grid_events}*/
),
final as (
    select agency, dataset, category_group, origin, x, y, count(*) as n
    from events
    group by all
)
select * from final;
