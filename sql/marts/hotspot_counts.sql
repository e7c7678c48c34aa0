-- marts.hotspot_counts: one row per unit type x unit x dataset x category group x origin x window with at
-- least one event (zeros are not stored; the transforms fill them over marts.units). Counts use local dates
-- of event_at inside each window ending at as_of. The geometry comes from marts.units (stored once).
create or replace table marts.hotspot_count_rows as
with events as (
    select * from marts.events where is_located
),
grouped as (
    select e.*, g.category_group
    from events e
    join marts.category_groups g
      on g.dataset = e.dataset and (g.category = '*' or g.category = e.category)
),
windowed as (
    select gr.*, w.window_days
    from grouped gr
    join marts.windows w on gr.local_date between w.start_date and w.end_date
),
with_origin as (
    select w.*, o.origin_dim
    from windowed w, (select unnest(['all', 'community', 'officer', 'unknown']) as origin_dim) o
    where o.origin_dim = 'all' or o.origin_dim = w.origin
),
assigned as (
    select wo.*, eu.unit_type, eu.unit_id
    from with_origin wo
    join marts.event_units eu using (dataset, source, event_id)
    where eu.unit_id is not null
),
final as (
    select agency, unit_type, unit_id, dataset, category_group, origin_dim as origin, window_days,
           count(*) as n
    from assigned
    group by all
)
select * from final;

create or replace view marts.hotspot_counts as
select c.*, u.geom
from marts.hotspot_count_rows c
join marts.units u using (agency, unit_type, unit_id);

comment on table marts.hotspot_count_rows is 'the rows of marts.hotspot_counts without geometry';
comment on view marts.hotspot_counts is 'non-zero event counts per agency, unit type, unit, dataset, category group, origin (all/community/officer/unknown) and window ending at as_of; geometry (analysis CRS) from marts.units';
