-- CompStat top list, kind call_type_growth: one row per agency x district x rank (1..top_n) of the call types
-- (event_type of dataset calls) with the largest increase from the same days last year to this period.
-- Variables: period_start, period_end (the last 28 local days), ly_start, ly_end (the same days a year
-- earlier), top_n.
with calls as (
    select *
    from marts.events
    where dataset = 'calls' and district is not null and event_type is not null
      and (local_date between cast(getvariable('period_start') as date) and cast(getvariable('period_end') as date)
           or local_date between cast(getvariable('ly_start') as date) and cast(getvariable('ly_end') as date))
),
counts as (
    select agency, cast(district as varchar) as district, cast(event_type as varchar) as item,
           count(*) filter (where local_date between cast(getvariable('period_start') as date)
                                                 and cast(getvariable('period_end') as date)) as n,
           count(*) filter (where local_date between cast(getvariable('ly_start') as date)
                                                 and cast(getvariable('ly_end') as date)) as n_compare
    from calls
    group by all
),
candidates as (
    select agency, district, item, item as label, cast(n - n_compare as double) as score,
           cast(n as bigint) as n, cast(n_compare as bigint) as n_compare
    from counts
    where n > n_compare
),
ranked as (
    select 'call_type_growth' as kind, *,
           row_number() over (partition by agency, district order by score desc, item) as rank
    from candidates
),
final as (
    select agency, district, kind, cast(rank as integer) as rank, item, label, score, n, n_compare
    from ranked
    where rank <= cast(getvariable('top_n') as bigint)
)
select * from final;
