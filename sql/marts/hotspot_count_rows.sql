-- marts.hotspot_count_rows: one row per agency x unit type x unit x dataset x category group x origin x window
-- with at least one event (zeros are not stored; the statistics fill them over marts.units). Counts use the
-- local dates of event_at inside each of the agency's windows (marts.windows, ending at its as_of).
-- marts.hotspot_counts adds the geometry.
create or replace table marts.hotspot_count_rows as
with located as (
    select * from marts.event_dims where is_located
),
windows as (
    select * from marts.windows
),
event_units as (
    select * from marts.event_units where unit_id is not null
),
windowed as (
    select l.*, w.window_days
    from located l
    join windows w on w.agency = l.agency and l.local_date between w.start_date and w.end_date
),
assigned as (
    select wd.*, eu.unit_type, eu.unit_id
    from windowed wd
    join event_units eu using (dataset, source, event_id)
),
final as (
    select agency, unit_type, unit_id, dataset, category_group, origin_dim as origin, window_days,
           count(*) as n
    from assigned
    group by all
)
select * from final;

comment on table marts.hotspot_count_rows is 'the rows of marts.hotspot_counts without geometry';
comment on column marts.hotspot_count_rows.n is 'events of the combination in the unit in the window (at least 1: zero counts are not stored)';
