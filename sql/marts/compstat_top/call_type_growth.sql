-- CompStat top list, kind call_type_growth: one row per agency x district x rank (1..top_n) of the call types
-- (event_type of dataset calls) with the largest increase from the same days last year to this period.
-- Variables: ranges (a list of {agency, period_start, period_end (the last 28 local days), ly_start, ly_end (the
-- same days a year earlier)}; an agency not listed has no rows), top_n.
with ranges as (
    select r.agency, r.period_start, r.period_end, r.ly_start, r.ly_end
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, period_start date, period_end date,
                                                             ly_start date, ly_end date)[])) as r)
),
calls as (
    select e.*, r.period_start, r.period_end, r.ly_start, r.ly_end
    from marts.events e
    join ranges r
      on r.agency = e.agency
     and (e.local_date between r.period_start and r.period_end or e.local_date between r.ly_start and r.ly_end)
    where e.dataset = 'calls' and e.district is not null and e.event_type is not null
),
counts as (
    select agency, cast(district as varchar) as district, cast(event_type as varchar) as item,
           count(*) filter (where local_date between period_start and period_end) as n,
           count(*) filter (where local_date between ly_start and ly_end) as n_compare
    from calls
    group by agency, cast(district as varchar), cast(event_type as varchar)
),
candidates as (
    select agency, 'calls' as dataset, district, item, item as label, cast(n - n_compare as double) as score,
           cast(n as bigint) as n, cast(n_compare as bigint) as n_compare
    from counts
    where n > n_compare
),
ranked as (
    select 'call_type_growth' as kind, *,
           row_number() over (partition by agency, dataset, district order by score desc, item) as rank
    from candidates
),
final as (
    select agency, dataset, district, kind, cast(rank as integer) as rank, item, label, score, n, n_compare
    from ranked
    where rank <= cast(getvariable('top_n') as bigint)
)
select * from final;
