-- The events of marts.events (one row per countable event) inside their agency's range of local dates: the
-- opening of the inputs that read one range per agency (grid_range_events, knox_events, concentration_counts,
-- temporal_local). Each puts it in place with a model marker (transforms.marts.models), keeps only its own
-- events (located, inside the grid ...), and fans them out to category groups and origins with
-- inputs/fan_out.sql, after counting them where it only needs counts.
-- Variables: ranges (a list of {agency, start_date, end_date}: local dates, inclusive; an agency not listed
-- has no rows).
with ranges as (
    select r.agency, r.start_date, r.end_date
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, start_date date, end_date date)[])) as r)
),
final as (
    select e.*
    from marts.events e
    join ranges r on r.agency = e.agency and e.local_date between r.start_date and r.end_date
)
select * from final;
