-- Input of marts.concentration over full unit sets: one row per agency x dataset x category group x unit type
-- (street, grid) x unit with at least one located event (with a recorded origin) inside its agency's range
-- (the repeat window); n = its events.
-- Variables: ranges (a list of {agency, start_date, end_date}: local dates, inclusive; an agency not listed
-- has no rows).
with ranges as (
    select r.agency, r.start_date, r.end_date
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, start_date date, end_date date)[])) as r)
),
events as (
    select e.*
    from marts.event_dims e
    join ranges r on r.agency = e.agency and e.local_date between r.start_date and r.end_date
    where e.is_located and e.origin is not null and e.origin_dim = 'all'
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
