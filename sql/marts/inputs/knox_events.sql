-- Input of the Knox test and the near-repeat labels: one row per located event x category group (origin all)
-- inside its agency's range, with t_days = its local date in days since 1970-01-01 (whole days, so events
-- without a time of day take part at day resolution). Ordered: the seeded permutations follow row order.
-- Variables: ranges (as inputs/range_events.sql).
with range_events as (
/*{model inputs/range_events}*/
),
fan_in as (
    select * from range_events where is_located
),
fanned as (
/*{model inputs/fan_out}*/
),
events as (
    select * from fanned where origin_dim = 'all'
),
final as (
    select agency, dataset, category_group, source, event_id, x, y, location_key,
           cast(epoch(cast(local_date as timestamp)) / 86400 as double) as t_days
    from events
)
select * from final
order by agency, dataset, category_group, source, event_id;
