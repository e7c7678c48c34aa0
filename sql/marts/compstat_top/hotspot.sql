-- CompStat top list, kind hotspot: one row per agency x dataset x district x rank (1..top_n) of the grid cells with
-- the highest 28-day Gi* z > 0 (calls and incidents apart, category group all, origin all). A cell's district is the most common
-- district of the events assigned to it (any date and dataset; ties to the smaller district name); cells
-- with no such event are skipped. Variables: top_n.
with event_units as (
    select * from marts.event_units where unit_type = 'grid' and unit_id is not null
),
events as (
    select * from marts.events where district is not null
),
hotspots as (
    select *
    from marts.hotspot_stats
    where unit_type = 'grid' and window_days = 28 and origin = 'all' and category_group = 'all'
      and z > 0
),
cell_district_counts as (
    select eu.agency, eu.unit_id, cast(e.district as varchar) as district,
           row_number() over (partition by eu.agency, eu.unit_id
                              order by count(*) desc, cast(e.district as varchar)) as rn
    from event_units eu
    join events e using (dataset, source, event_id)
    group by eu.agency, eu.unit_id, cast(e.district as varchar)
),
cell_district as (
    select agency, unit_id, district from cell_district_counts where rn = 1
),
candidates as (
    select h.agency, h.dataset, d.district, h.unit_id as item, cast(null as varchar) as label,
           cast(h.z as double) as score, cast(h.n as bigint) as n, cast(null as bigint) as n_compare
    from hotspots h
    join cell_district d on d.agency = h.agency and d.unit_id = h.unit_id
),
ranked as (
    select 'hotspot' as kind, *,
           row_number() over (partition by agency, dataset, district order by score desc, item) as rank
    from candidates
),
final as (
    select agency, dataset, district, kind, cast(rank as integer) as rank, item, label, score, n, n_compare
    from ranked
    where rank <= cast(getvariable('top_n') as bigint)
)
select * from final;
