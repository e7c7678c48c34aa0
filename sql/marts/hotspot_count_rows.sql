-- marts.hotspot_count_rows: one row per agency x unit type x unit x dataset x category group x origin x window
-- with at least one event (zeros are not stored; the statistics fill them over marts.units). Counts use the
-- local dates of event_at inside each of the agency's windows (marts.windows, ending at its as_of).
-- Events fan out to category groups and origins as in marts.event_dims (inputs/fan_out.sql), after they are
-- counted. marts.hotspot_counts adds the geometry. This builds the counts from scratch; a night that can keeps
-- them and adds what changed (sql/marts/hotspot_count_update.sql, transforms/marts/hotspots.py).
create or replace table marts.hotspot_count_rows as
with windows as (
    select * from marts.windows
),
spans as (
    select agency, min(start_date) as first_date, max(end_date) as last_date
    from windows
    group by agency
),
event_units as (
    select * from marts.event_units where unit_id is not null
),
-- the events counted per unit, category, origin and day first, so the windows and the fan-out below run on
-- counts, not on events
daily as (
    select e.agency, e.dataset, e.category, e.origin, e.local_date, eu.unit_type, eu.unit_id, count(*) as n
    from marts.events e
    join spans s on s.agency = e.agency and e.local_date between s.first_date and s.last_date
    join event_units eu using (dataset, source, event_id)
    where e.is_located
    group by all
),
windowed as (
    select d.agency, d.dataset, d.category, d.origin, d.unit_type, d.unit_id, w.window_days, sum(d.n) as n
    from daily d
    join windows w on w.agency = d.agency and d.local_date between w.start_date and w.end_date
    group by all
),
fan_in as (
    select * from windowed
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, unit_type, unit_id, dataset, category_group, origin_dim as origin, window_days,
           cast(sum(n) as bigint) as n
    from fanned
    group by all
)
select * from final;

comment on table marts.hotspot_count_rows is 'the rows of marts.hotspot_counts without geometry; kept between nights, a night adding what changed (sql/marts/hotspot_count_update.sql)';
comment on column marts.hotspot_count_rows.n is 'events of the combination in the unit in the window (at least 1: zero counts are not stored)';
