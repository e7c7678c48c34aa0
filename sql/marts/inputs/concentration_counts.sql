-- Input of marts.concentration over full unit sets: one row per agency x dataset x category group x unit type
-- (street, grid) x unit with at least one located event (with a recorded origin) inside its agency's range
-- (the repeat window); n = its events.
-- Variables: ranges (as inputs/range_events.sql).
with range_events as (
/*{model inputs/range_events}*/
),
event_units as (
    select * from marts.event_units where unit_id is not null and unit_type in ('street', 'grid')
),
-- counted per category and origin first; the counts then fan out to category groups (inputs/fan_out.sql)
fan_in as (
    select e.agency, e.dataset, e.category, e.origin, eu.unit_type, eu.unit_id, count(*) as n
    from range_events e
    join event_units eu using (dataset, source, event_id)
    where e.is_located and e.origin is not null
    group by all
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, dataset, category_group, unit_type, unit_id, cast(sum(n) as bigint) as n
    from fanned
    where origin_dim = 'all'
    group by all
)
select * from final;
