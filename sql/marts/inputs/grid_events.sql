-- Input of the grid-cell statistics (emerging hot spots, KDE, prediction accuracy): one row per located event
-- inside its agency's range with a grid cell x category group x origin dimension it belongs to.
-- x, y in the analysis CRS; local_date in the agency zone.
-- Variables: ranges (as inputs/range_events.sql).
with range_events as (
/*{model inputs/range_events}*/
),
events as (
    select * from range_events where is_located
),
grid as (
    select * from marts.event_units where unit_type = 'grid' and unit_id is not null
),
final as (
    select e.agency, e.dataset, e.category_group, e.origin_dim as origin, e.local_date, e.x, e.y, g.unit_id
    from events e
    join grid g using (dataset, source, event_id)
)
select * from final;
