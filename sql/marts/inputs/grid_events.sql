-- Input of the prediction accuracy (marts.hotspot_accuracy): one row per located event
-- inside its agency's range and the grid (inputs/grid_range_events.sql) x category group x origin dimension it
-- belongs to (inputs/fan_out.sql). x, y in the analysis CRS; local_date in the agency zone.
-- Variables: ranges (as inputs/range_events.sql).
with fan_in as (
/*{model inputs/grid_range_events}*/
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, dataset, category_group, origin_dim as origin, local_date, x, y, unit_id
    from fanned
)
select * from final;
