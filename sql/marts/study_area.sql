-- marts.study_area: one row per agency with grid cells: how much of the study area the data fill, and a warning
-- when most cells never had an event. Gi* and emerging hot spots take their mean and variance over every cell
-- of the area, so an area much larger than the data (a generous bbox) changes which cells come out hot.
-- Cells "with events" hold at least one located event (any dataset, category and origin): in the longest
-- analysis window (from marts.hotspot_count_rows), and in all of marts.events up to the agency's as_of (history from the
-- horizon's first date on). The data extent is the box of those events' points; a cell is inside it when its
-- centre is.
-- The warning names the case: most cells never had an event in all the history read (the area is larger than
-- where events happen), or they had, and the window is thin (sparse counts). Geometries in the analysis CRS.
-- Variables: ends (a list of {agency, as_of}; an agency not listed has no row), window_days (the longest analysis window), empty_share (warn above this share of empty cells),
-- bbox_agencies (the agencies whose area is a configured bbox rather than a boundary polygon).
create or replace table marts.study_area as
with ends as (
    select r.agency, r.as_of
    from (select unnest(cast(getvariable('ends') as struct(agency varchar, as_of date)[])) as r)
),
cells as (
    select u.agency, u.unit_id, u.geom
    from marts.units u
    join ends using (agency)
    where u.unit_type = 'grid'
),
window_counts as (
    select agency, unit_id, sum(n) as n
    from marts.hotspot_count_rows
    where unit_type = 'grid' and category_group = 'all' and origin = 'all'
      and window_days = cast(getvariable('window_days') as bigint)
    group by all
),
located_events as (
    select eu.agency, eu.unit_id, e.x, e.y
    from marts.event_units eu
    join marts.events e using (dataset, source, event_id)
    join ends r on r.agency = eu.agency
    where eu.unit_type = 'grid' and eu.unit_id is not null and e.is_located
      and e.local_date <= r.as_of
),
extent as (
    select agency, count(*) as n_events_history, count(distinct unit_id) as n_cells_with_events_history,
           min(x) as xmin, min(y) as ymin, max(x) as xmax, max(y) as ymax
    from located_events
    group by agency
),
per_agency as (
    select c.agency,
           count(*) as n_cells,
           coalesce(sum(w.n), 0) as n_events_window,
           count(w.unit_id) as n_cells_with_events_window,
           count(*) filter (where ST_X(ST_Centroid(c.geom)) between x.xmin and x.xmax
                              and ST_Y(ST_Centroid(c.geom)) between x.ymin and x.ymax) as n_cells_in_data_extent,
           ST_Extent_Agg(c.geom) as area_bbox
    from cells c
    left join window_counts w using (agency, unit_id)
    left join extent x using (agency)
    group by c.agency
),
measured as (
    select p.agency,
           case when list_contains(cast(getvariable('bbox_agencies') as varchar[]), p.agency)
                then 'bbox' else 'boundary' end as area_from,
           p.n_cells,
           cast(getvariable('window_days') as bigint) as window_days,
           cast(p.n_events_window as bigint) as n_events_window,
           p.n_cells_with_events_window,
           1 - p.n_cells_with_events_window / p.n_cells as share_empty_window,
           coalesce(x.n_events_history, 0) as n_events_history,
           coalesce(x.n_cells_with_events_history, 0) as n_cells_with_events_history,
           1 - coalesce(x.n_cells_with_events_history, 0) / p.n_cells as share_empty_history,
           p.n_cells_in_data_extent / p.n_cells as share_in_data_extent,
           p.area_bbox,
           case when x.xmin is not null then ST_MakeEnvelope(x.xmin, x.ymin, x.xmax, x.ymax) end as data_bbox
    from per_agency p
    left join extent x using (agency)
),
final as (
    select *,
           case
               when n_events_window = 0 or share_empty_window <= cast(getvariable('empty_share') as double)
                   then null
               -- most cells never had an event at all: the area is larger than where events happen
               when share_empty_history > cast(getvariable('empty_share') as double) then printf(
                   '%d%% of the %,d grid cells had no located event in the last %d days and %d%% had none in '
                   || 'all the history read (the events'' box covers %d%% of %s): the study area is much larger '
                   || 'than where events happen. Gi* and emerging hot spots take their mean and variance over '
                   || 'every cell, so the empty cells make thin clusters look hot and can change a cell''s '
                   || 'class. Set a boundary polygon of %s (agencies.%s.boundary).',
                   cast(round(100 * share_empty_window) as integer), n_cells, window_days,
                   cast(round(100 * share_empty_history) as integer), cast(round(100 * share_in_data_extent) as integer),
                   case area_from when 'bbox' then 'the configured bbox' else 'the boundary' end,
                   case area_from when 'bbox' then 'the jurisdiction' else 'the part of the jurisdiction where events happen' end,
                   agency)
               -- the events cover the area over history, but the window is thin
               else printf(
                   '%d%% of the %,d grid cells had no located event in the last %d days (%d%% in all the history '
                   || 'read): the counts are sparse for this cell size and window. Gi* then flags cells next to '
                   || 'a few events, often with none of their own (see n); read the hot spots with their counts, '
                   || 'or use a larger cell_size_m or a longer window.',
                   cast(round(100 * share_empty_window) as integer), n_cells, window_days,
                   cast(round(100 * share_empty_history) as integer))
           end as warning
    from measured
)
select * from final
order by agency;

comment on table marts.study_area is 'per agency: grid cells (n_cells) and how many had a located event in the longest analysis window (window_days) and in all history the marts read, the shares of empty cells, the share of cells inside the data''s extent (the box of the events), the area''s and the data''s boxes (analysis CRS), area_from (boundary or bbox) and a warning when more than [analysis] study_area_empty_share of the cells had no event in the window: Gi* and emerging hot spots depend on the study area';
comment on column marts.study_area.area_from is 'how the agency''s area is given: boundary (a polygon layer) or bbox';
comment on column marts.study_area.n_cells is 'grid cells of the agency''s area (marts.units, unit_type grid)';
comment on column marts.study_area.window_days is 'the longest analysis window, whole local days ending at the agency''s as_of';
comment on column marts.study_area.n_events_window is 'located events (any dataset, category, origin) in that window';
comment on column marts.study_area.n_cells_with_events_window is 'grid cells holding at least one of them';
comment on column marts.study_area.share_empty_window is 'share (0..1) of the grid cells with no located event in the window';
comment on column marts.study_area.n_events_history is 'located events in all of marts.events up to as_of (from the horizon''s first date on)';
comment on column marts.study_area.n_cells_with_events_history is 'grid cells holding at least one of them';
comment on column marts.study_area.share_empty_history is 'share (0..1) of the grid cells with no located event in that history';
comment on column marts.study_area.share_in_data_extent is 'share (0..1) of the grid cells whose centre lies inside the box of the events'' points';
comment on column marts.study_area.area_bbox is 'the box of the agency''s area, analysis CRS (metres)';
comment on column marts.study_area.data_bbox is 'the box of the located events'' points (history), analysis CRS (metres)';
comment on column marts.study_area.warning is 'why the hot spots may mislead: the area is much larger than where events happen, or the window''s counts are sparse; null when at most study_area_empty_share of the cells are empty';
