-- The rows of marts.compstat (the builder adds poisson_z with transforms.stats.wdd and writes the mart): one
-- row per agency x unit x dataset x category group x period (week, 28d, ytd), for every unit and group with an
-- event in any compared range, so zero-now-but-some-last-year rows and the reverse are both present.
-- Units: unit_type agency (the whole agency), district or beat; unit_id is null for events without one.
-- Variables: periods (a list of {period, period_start, period_end, ly_start, ly_end}, local dates inclusive;
-- ly_* the same dates one year earlier), first_date (the earliest date of them all), as_of.
with events as (
    select agency, dataset, category_group, local_date, district, beat
    from marts.event_dims
    where origin_dim = 'all'
      and local_date between cast(getvariable('first_date') as date) and cast(getvariable('as_of') as date)
),
periods as (
    select p.period, p.period_start, p.period_end, p.ly_start, p.ly_end
    from (select unnest(cast(getvariable('periods') as struct(period varchar, period_start date, period_end date,
                                                              ly_start date, ly_end date)[])) as p)
),
unit_events as (
    select agency, 'district' as unit_type, cast(district as varchar) as unit_id, dataset, category_group, local_date
    from events
    union all
    select agency, 'beat', cast(beat as varchar), dataset, category_group, local_date
    from events
    union all
    select agency, 'agency', agency, dataset, category_group, local_date
    from events
),
tagged as (
    select u.*, p.period,
           u.local_date between p.period_start and p.period_end as is_now,
           u.local_date between p.ly_start and p.ly_end as is_ly
    from unit_events u
    join periods p
      on u.local_date between p.period_start and p.period_end
      or u.local_date between p.ly_start and p.ly_end
),
counts as (
    select agency, unit_type, unit_id, dataset, category_group, period,
           count(*) filter (where is_now) as n, count(*) filter (where is_ly) as n_last_year
    from tagged
    group by all
),
unit_groups as (
    select distinct agency, unit_type, unit_id, dataset, category_group
    from counts
),
filled as (
    select k.agency, k.unit_type, k.unit_id, k.dataset, k.category_group, p.period,
           p.period_start, p.period_end, p.ly_start as last_year_start, p.ly_end as last_year_end,
           cast(coalesce(c.n, 0) as bigint) as n, cast(coalesce(c.n_last_year, 0) as bigint) as n_last_year
    from unit_groups k
    cross join periods p
    left join counts c
      on c.agency = k.agency and c.unit_type = k.unit_type and c.unit_id is not distinct from k.unit_id
     and c.dataset = k.dataset and c.category_group = k.category_group and c.period = p.period
),
final as (
    select *,
           n - n_last_year as change,
           -- a percentage; null when there is nothing last year to compare with
           case when n_last_year > 0
                then cast(100 as double) * cast(n - n_last_year as double) / cast(n_last_year as double)
           end as pct_change,
           cast(getvariable('as_of') as date) as as_of
    from filled
)
select * from final
order by agency, unit_type, unit_id nulls last, dataset, category_group,
         case period when 'week' then 0 when '28d' then 1 else 2 end;
