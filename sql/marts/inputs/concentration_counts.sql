-- Input of marts.concentration over full unit sets: one row per agency x dataset x category group x unit type
-- (street, grid) x unit with at least one located event (with a recorded origin) inside its agency's range
-- (the repeat window); n = its events.
-- Variables: ranges (as inputs/range_events.sql).
with range_events as (
/*{model inputs/range_events}*/
),
events as (
    select * from range_events where is_located and origin is not null and origin_dim = 'all'
),
event_units as (
    select * from marts.event_units where unit_id is not null and unit_type in ('street', 'grid')
),
final as (
    select e.agency, e.dataset, e.category_group, eu.unit_type, eu.unit_id, count(*) as n
    from events e
    join event_units eu using (dataset, source, event_id)
    group by all
)
select * from final;
