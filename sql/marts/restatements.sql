-- The rows of marts.restatements: one row per CompStat figure as published on one of the kept nights (the
-- variable run_ids: the last nights before tonight) whose value moved since, or that has records in
-- marts.restatement_records; a figure with the same value now and no record is left out.
-- value_then: n as published (meta.published_compstat; figures published without a count, not covered, are
-- left out). value_now: the same figure, same dates, counted tonight as marts.event_dims (origin all) would
-- count it, from the daily counts per unit (marts.event_days): the same rules as marts.compstat. records_delta:
-- the sum of the figure's record deltas in marts.restatement_records; unaccounted = value_now - value_then -
-- records_delta, 0 unless something other than a record's version moved the figure (a changed category group or
-- agency zone in config).
-- Variables: run_ids (the nights, each a meta.runs run_id).
with figures as (
    select p.*
    from meta.published_compstat p
    where p.run_id in (select unnest(cast(getvariable('run_ids') as varchar[]))) and p.n is not null
),
-- the events counted per category, origin, district, beat and day (marts.event_days, kept between nights),
-- fanned out to category groups as marts.event_dims fans out the events (origin all)
fan_in as (
    select * from marts.event_days
),
fanned as (
/*{model inputs/fan_out}*/
),
events as (
    select agency, dataset, category_group, local_date, cast(district as varchar) as district,
           cast(beat as varchar) as beat, n
    from fanned
    where origin_dim = 'all'
),
daily as (
    select agency, 'agency' as unit_type, agency as unit_id, dataset, category_group, local_date, sum(n) as n
    from events group by all
    union all
    select agency, 'district', coalesce(district, '(unassigned)'), dataset, category_group, local_date, sum(n)
    from events group by all
    union all
    select agency, 'beat', coalesce(beat, '(unassigned)'), dataset, category_group, local_date, sum(n)
    from events group by all
),
running as (
    select *, sum(n) over (partition by agency, unit_type, unit_id, dataset, category_group order by local_date
                           rows between unbounded preceding and current row) as upto
    from daily
),
at_end as (
    select f.*, coalesce(r.upto, 0) as upto_end
    from figures f
    asof left join running r
      on r.agency = f.agency and r.unit_type = f.unit_type and r.unit_id = f.unit_id and r.dataset = f.dataset
     and r.category_group = f.category_group and r.local_date <= f.period_end
),
counted as (
    select a.*, a.upto_end - coalesce(r.upto, 0) as value_now
    from at_end a
    asof left join running r
      on r.agency = a.agency and r.unit_type = a.unit_type and r.unit_id = a.unit_id and r.dataset = a.dataset
     and r.category_group = a.category_group and r.local_date < a.period_start
),
records as (
    select run_id, agency, unit_type, unit_id, dataset, category_group, period, sum(delta) as records_delta,
           count(*) as n_records
    from marts.restatement_records
    group by all
),
final as (
    select c.run_id, c.published_at, c.agency, c.unit_type, c.unit_id, c.dataset, c.category_group, c.period,
           c.period_start, c.period_end, c.n as value_then, cast(c.value_now as bigint) as value_now,
           cast(c.value_now - c.n as bigint) as change,
           cast(coalesce(r.records_delta, 0) as bigint) as records_delta,
           cast(coalesce(r.n_records, 0) as bigint) as n_records,
           cast(c.value_now - c.n - coalesce(r.records_delta, 0) as bigint) as unaccounted
    from counted c
    left join records r
      on r.run_id = c.run_id and r.agency = c.agency and r.unit_type = c.unit_type and r.unit_id = c.unit_id
     and r.dataset = c.dataset and r.category_group = c.category_group and r.period = c.period
    where c.value_now <> c.n or r.n_records is not null
)
select * from final
order by published_at, agency, unit_type, unit_id, dataset, category_group,
         case period when 'week' then 0 when '28d' then 1 else 2 end
