-- Input of the grid-cell statistics (emerging hot spots, KDE, prediction accuracy): one row per located event
-- inside its agency's range with a grid cell x category group x origin dimension it belongs to.
-- x, y in the analysis CRS; local_date in the agency zone.
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
    where e.is_located
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
