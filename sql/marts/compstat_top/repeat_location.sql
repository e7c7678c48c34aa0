-- CompStat top list, kind repeat_location: one row per agency x dataset x district x rank (1..top_n) of the
-- location_keys with the most events in the repeat window (marts.repeat_location_rows: calls and incidents apart,
-- category group all, origin all).
-- A place's district is the most common district of its events in marts.events (ties to the smaller name).
-- Variables: top_n.
with events as (
    select * from marts.events where location_key is not null and district is not null
),
places as (
    select * from marts.repeat_location_rows
    where origin = 'all' and category_group = 'all'
),
place_district_counts as (
    select agency, location_key, cast(district as varchar) as district,
           row_number() over (partition by agency, location_key
                              order by count(*) desc, cast(district as varchar)) as rn
    from events
    group by agency, location_key, cast(district as varchar)
),
place_district as (
    select agency, location_key, district from place_district_counts where rn = 1
),
candidates as (
    select r.agency, r.dataset, d.district, r.location_key as item, cast(coalesce(r.address_block, r.location_label) as varchar) as label,
           cast(r.n_repeat_window as double) as score, cast(r.n_repeat_window as bigint) as n,
           cast(null as bigint) as n_compare
    from places r
    join place_district d on d.agency = r.agency and d.location_key = r.location_key
),
ranked as (
    select 'repeat_location' as kind, *,
           row_number() over (partition by agency, dataset, district order by score desc, item) as rank
    from candidates
),
final as (
    select agency, dataset, district, kind, cast(rank as integer) as rank, item, label, score, n, n_compare
    from ranked
    where rank <= cast(getvariable('top_n') as bigint)
)
select * from final;
