-- The rows of marts.compstat (the builder adds poisson_z with transforms.stats.wdd and writes the mart): one
-- row per agency x unit x dataset x category group x period (week, 28d, ytd), for every unit and group with an
-- event in any compared range, so zero-now-but-some-last-year rows and the reverse are both present.
-- Units: unit_type agency (the whole agency), district or beat; unit_id '(unassigned)' counts the events
-- without one. A unit type none of whose events (of that agency and dataset) has a unit is left out: it would
-- only repeat the agency total.
-- Coverage: a period is covered for agency x dataset when every local date in it is a day of marts.coverage_daily
-- that is not an outage (inside the period of one of the dataset's sources). n is null when this period is not
-- covered, n_last_year when last year's is not; change and pct_change only when both are; comparison says
-- 'ok', or 'no comparison (data from <first day> to <last complete day>)' when a period reaches outside the
-- dataset's data, else 'no comparison (outage on N days)' (N: uncovered days of both periods).
-- Variables: periods (a list of {agency, period, period_start, period_end, ly_start, ly_end, as_of}, local
-- dates inclusive; ly_* the same dates one year earlier; an agency not listed has no rows).
with periods as (
    select p.agency, p.period, p.period_start, p.period_end, p.ly_start, p.ly_end, p.as_of
    from (select unnest(cast(getvariable('periods') as struct(agency varchar, period varchar, period_start date,
                                                              period_end date, ly_start date, ly_end date,
                                                              as_of date)[])) as p)
),
bounds as (
    select agency, min(least(period_start, ly_start)) as first_date, max(period_end) as as_of
    from periods
    group by agency
),
-- the events counted per category, origin, district, beat and day (marts.event_days, kept between nights), so
-- the fan-out to category groups (inputs/fan_out.sql, origin all) and the periods below run on counts, not on
-- events
day_counts as (
    select e.agency, e.dataset, e.category, e.origin, e.district, e.beat, e.local_date, e.n
    from marts.event_days e
    join bounds b on b.agency = e.agency and e.local_date between b.first_date and b.as_of
),
fan_in as (
    select * from day_counts
),
fanned as (
/*{model inputs/fan_out}*/
),
events as (
    select agency, dataset, category_group, local_date, district, beat, n
    from fanned
    where origin_dim = 'all'
),
daily as (
    select * from marts.coverage_daily
),
has_units as (
    select agency, dataset, bool_or(district is not null) as has_district, bool_or(beat is not null) as has_beat
    from events
    group by all
),
unit_events as (
    select e.agency, 'district' as unit_type, coalesce(cast(e.district as varchar), '(unassigned)') as unit_id,
           e.dataset, e.category_group, e.local_date, e.n
    from events e
    join has_units h using (agency, dataset)
    where h.has_district
    union all
    select e.agency, 'beat', coalesce(cast(e.beat as varchar), '(unassigned)'), e.dataset, e.category_group,
           e.local_date, e.n
    from events e
    join has_units h using (agency, dataset)
    where h.has_beat
    union all
    select agency, 'agency', agency, dataset, category_group, local_date, n
    from events
),
tagged as (
    select u.*, p.period,
           u.local_date between p.period_start and p.period_end as is_now,
           u.local_date between p.ly_start and p.ly_end as is_ly
    from unit_events u
    join periods p
      on p.agency = u.agency
     and (u.local_date between p.period_start and p.period_end or u.local_date between p.ly_start and p.ly_end)
),
counts as (
    select agency, unit_type, unit_id, dataset, category_group, period,
           coalesce(sum(n) filter (where is_now), 0) as n, coalesce(sum(n) filter (where is_ly), 0) as n_last_year
    from tagged
    group by all
),
unit_groups as (
    select distinct agency, unit_type, unit_id, dataset, category_group
    from counts
),
covered_days as (
    select distinct agency, dataset, local_date from daily where not is_outage
),
data_spans as (
    select agency, dataset, min(local_date) as first_day, max(local_date) as last_day
    from daily
    group by all
),
period_cover as (
    -- per agency x dataset x period: covered days of this period and of last year's, and whether either
    -- reaches outside the dataset's data
    select p.agency, s.dataset, p.period,
           count(c.local_date) filter (where c.local_date between p.period_start and p.period_end) as covered_now,
           count(c.local_date) filter (where c.local_date between p.ly_start and p.ly_end) as covered_ly,
           any_value(p.period_end - p.period_start + 1) as days_now,
           any_value(p.ly_end - p.ly_start + 1) as days_ly,
           any_value(least(p.period_start, p.ly_start) < s.first_day or p.period_end > s.last_day) as outside,
           any_value(s.first_day) as first_day, any_value(s.last_day) as last_day
    from periods p
    join data_spans s on s.agency = p.agency
    left join covered_days c
      on c.agency = p.agency and c.dataset = s.dataset
     and (c.local_date between p.period_start and p.period_end or c.local_date between p.ly_start and p.ly_end)
    group by p.agency, s.dataset, p.period
),
filled as (
    select k.agency, k.unit_type, k.unit_id, k.dataset, k.category_group, p.period,
           p.period_start, p.period_end, p.ly_start as last_year_start, p.ly_end as last_year_end,
           cast(coalesce(c.n, 0) as bigint) as n_all, cast(coalesce(c.n_last_year, 0) as bigint) as n_ly_all,
           coalesce(v.covered_now = v.days_now, false) as now_covered,
           coalesce(v.covered_ly = v.days_ly, false) as ly_covered,
           v.outside, v.first_day, v.last_day,
           coalesce(v.days_now - v.covered_now + v.days_ly - v.covered_ly, 0) as uncovered_days,
           p.as_of
    from unit_groups k
    join periods p on p.agency = k.agency
    left join counts c
      on c.agency = k.agency and c.unit_type = k.unit_type and c.unit_id = k.unit_id
     and c.dataset = k.dataset and c.category_group = k.category_group and c.period = p.period
    left join period_cover v on v.agency = k.agency and v.dataset = k.dataset and v.period = p.period
),
final as (
    select agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end,
           last_year_start, last_year_end,
           case when now_covered then n_all end as n,
           case when ly_covered then n_ly_all end as n_last_year,
           case when now_covered and ly_covered then n_all - n_ly_all end as change,
           -- a percentage; null when there is nothing last year to compare with
           case when now_covered and ly_covered and n_ly_all > 0
                then cast(100 as double) * cast(n_all - n_ly_all as double) / cast(n_ly_all as double)
           end as pct_change,
           case when now_covered and ly_covered then 'ok'
                when outside is null or outside
                then 'no comparison (data from ' || coalesce(cast(first_day as varchar), 'none') || ' to '
                     || coalesce(cast(last_day as varchar), 'none') || ')'
                else 'no comparison (outage on ' || cast(uncovered_days as varchar) || ' days)'
           end as comparison,
           as_of
    from filled
)
select * from final
order by agency, unit_type, unit_id, dataset, category_group,
         case period when 'week' then 0 when '28d' then 1 else 2 end;
