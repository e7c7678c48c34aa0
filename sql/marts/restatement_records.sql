-- The rows of marts.restatement_records for one published night: one row per CompStat figure as published that
-- night x record whose counting in it changed since (delta +1: counted now, not then; -1: counted then, not now),
-- with the reason. Only records with a version published after that night are examined (a new version, or a
-- version ended by a later load): every other record is counted the same then and now.
-- A record counts in a figure by the rules of marts.events / marts.event_dims / marts.compstat: calls countable
-- and not void, incidents not void; its agency's local date (marts.agency_zones) of event_at inside the period;
-- its category in the figure's category group (marts.category_groups, '*' = every category); unit agency, or its
-- district / beat ('(unassigned)' when it has none). The record as known then is the version core.*_as_known_at
-- gives at the night's publication time; now, the current version (ended_load_id null).
-- Variables: run_id, published_at (the night: its meta.runs run_id and finished_at).
with known as (
    select l.load_id, coalesce(r.finished_at, l.loaded_at) as known_at
    from meta.loads l
    left join meta.runs r on r.run_id = l.run_id
),
versions as (
    select 'calls' as dataset, source, call_id as record_id, load_id, ended_load_id, row_hash, agency, event_at,
           call_category as category, is_countable, is_void, cast(district as varchar) as district,
           cast(beat as varchar) as beat, disposition
    from core.call_versions
    union all
    select 'incidents', source, incident_id, load_id, ended_load_id, row_hash, agency, event_at, offense_category,
           true, is_void, cast(district as varchar), cast(beat as varchar), cast(null as varchar)
    from core.incident_versions
),
later_loads as (
    select load_id from known where known_at > cast(getvariable('published_at') as timestamptz)
),
touched as (
    select distinct dataset, source, record_id
    from versions
    where load_id in (select load_id from later_loads) or ended_load_id in (select load_id from later_loads)
),
touched_versions as (
    select v.*, k.known_at, e.known_at as ended_at
    from versions v
    semi join touched t on t.dataset = v.dataset and t.source = v.source and t.record_id = v.record_id
    join known k on k.load_id = v.load_id
    left join known e on e.load_id = v.ended_load_id
),
sides as (
    -- the record as known then (side then) and now (side now), with its local date
    select s.side, v.* exclude (known_at, ended_at, load_id, ended_load_id),
           cast(timezone(z.timezone, v.event_at) as date) as local_date,
           v.is_countable and not v.is_void as counts
    from touched_versions v
    join (select 'then' as side union all select 'now') s
      on (s.side = 'then' and v.known_at <= cast(getvariable('published_at') as timestamptz)
          and (v.ended_at is null or v.ended_at > cast(getvariable('published_at') as timestamptz)))
      or (s.side = 'now' and v.ended_load_id is null)
    left join marts.agency_zones z on z.agency = v.agency
),
changed as (
    -- the records whose version then is not their version now
    select coalesce(t.dataset, n.dataset) as dataset, coalesce(t.source, n.source) as source,
           coalesce(t.record_id, n.record_id) as record_id
    from (select * from sides where side = 'then') t
    full join (select * from sides where side = 'now') n
      on n.dataset = t.dataset and n.source = t.source and n.record_id = t.record_id
    where t.row_hash is distinct from n.row_hash
),
figures as (
    select agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end
    from meta.published_compstat
    where run_id = getvariable('run_id') and n is not null
),
memberships as (
    -- every figure each side of a changed record counts in
    select s.side, s.dataset, s.source, s.record_id, f.*
    from sides s
    semi join changed c on c.dataset = s.dataset and c.source = s.source and c.record_id = s.record_id
    join marts.category_groups g on g.dataset = s.dataset and (g.category = '*' or g.category = s.category)
    cross join (select unnest(['agency', 'district', 'beat']) as unit_type) u
    join figures f
      on f.agency = s.agency and f.dataset = s.dataset and f.category_group = g.category_group
     and f.unit_type = u.unit_type
     and f.unit_id = case u.unit_type when 'agency' then s.agency
                                      when 'district' then coalesce(s.district, '(unassigned)')
                                      else coalesce(s.beat, '(unassigned)') end
     and s.local_date between f.period_start and f.period_end
    where s.counts
),
deltas as (
    select agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end, source, record_id,
           cast(count(*) filter (where side = 'now') - count(*) filter (where side = 'then') as integer) as delta
    from memberships
    group by all
    having delta <> 0
),
explained as (
    select d.*, t.category as t_category, n.category as n_category, t.is_void as t_void, n.is_void as n_void,
           t.is_countable as t_countable, n.is_countable as n_countable, t.disposition as t_disposition,
           n.disposition as n_disposition, t.local_date as t_date, n.local_date as n_date,
           case d.unit_type when 'district' then t.district when 'beat' then t.beat else t.agency end as t_unit,
           case d.unit_type when 'district' then n.district when 'beat' then n.beat else n.agency end as n_unit,
           t.record_id is not null as t_known, n.record_id is not null as n_known,
           exists (select 1 from marts.category_groups g where g.dataset = d.dataset
                   and g.category_group = d.category_group and (g.category = '*' or g.category = t.category))
               as t_in_group,
           exists (select 1 from marts.category_groups g where g.dataset = d.dataset
                   and g.category_group = d.category_group and (g.category = '*' or g.category = n.category))
               as n_in_group,
           t.agency as t_agency, n.agency as n_agency
    from deltas d
    left join (select * from sides where side = 'then') t
      on t.dataset = d.dataset and t.source = d.source and t.record_id = d.record_id
    left join (select * from sides where side = 'now') n
      on n.dataset = d.dataset and n.source = d.source and n.record_id = d.record_id
),
final as (
    -- the first difference, in this order, that takes the record into or out of the figure
    select agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end,
           getvariable('run_id') as run_id, source, record_id, coalesce(n_date, t_date) as local_date, delta,
           case when not t_known then 'late report added'
                when not n_known then 'removed by a replaced extract'
                when t_void <> n_void then case when n_void then 'voided or unfounded' else 'restored' end
                when t_countable <> n_countable then 'disposition changed'
                when t_in_group <> n_in_group then 'reclassified'
                when (t_date between period_start and period_end) <> (n_date between period_start and period_end)
                then 'retimed'
                when t_agency is distinct from n_agency then 'moved to another agency'
                else 'relocated'
           end as reason,
           t_category, n_category, t_disposition, n_disposition, t_date, n_date, t_unit, n_unit,
           t_countable, n_countable
    from explained
)
select agency, unit_type, unit_id, dataset, category_group, period, period_start, period_end, run_id, source,
       record_id, local_date, delta, reason,
       case reason when 'reclassified' then t_category
                   when 'disposition changed' then coalesce(t_disposition, '(none)')
                       || case when t_countable then ', counted' else ', not counted' end
                   when 'retimed' then cast(t_date as varchar)
                   when 'relocated' then coalesce(t_unit, '(unassigned)')
                   when 'voided or unfounded' then 'not void'
                   when 'restored' then 'void'
                   when 'removed by a replaced extract' then cast(t_date as varchar)
       end as old_value,
       case reason when 'reclassified' then n_category
                   when 'disposition changed' then coalesce(n_disposition, '(none)')
                       || case when n_countable then ', counted' else ', not counted' end
                   when 'retimed' then cast(n_date as varchar)
                   when 'relocated' then coalesce(n_unit, '(unassigned)')
                   when 'voided or unfounded' then 'void'
                   when 'restored' then 'not void'
                   when 'late report added' then cast(n_date as varchar)
       end as new_value
from final
