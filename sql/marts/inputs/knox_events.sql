-- Input of the Knox test and the near-repeat labels: one row per located event x category group (origin all)
-- inside its agency's range, with t_days = its local date in days since 1970-01-01 (whole days, so events
-- without a time of day take part at day resolution). Ordered: the seeded permutations follow row order.
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
    where e.is_located and e.origin_dim = 'all'
),
final as (
    select agency, dataset, category_group, source, event_id, x, y, location_key,
           cast(epoch(cast(local_date as timestamp)) / 86400 as double) as t_days
    from events
)
select * from final
order by agency, dataset, category_group, source, event_id;
