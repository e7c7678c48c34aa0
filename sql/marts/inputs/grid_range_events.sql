-- The located events of inputs/range_events.sql inside the grid, each with its grid cell (unit_id), before the
-- fan-out to category groups and origins: read by inputs/grid_events.sql (event by event), inputs/grid_cell_days.sql
-- (counted per cell and day) and inputs/grid_points.sql (counted per point).
-- Variables: ranges (as inputs/range_events.sql).
with range_events as (
/*{model inputs/range_events}*/
),
grid as (
    select * from marts.event_units where unit_type = 'grid' and unit_id is not null
),
final as (
    select e.*, g.unit_id
    from range_events e
    join grid g using (dataset, source, event_id)
    where e.is_located
)
select * from final;
