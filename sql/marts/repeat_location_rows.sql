-- marts.repeat_location_rows: one row per agency x location_key x dataset x category group x origin with an
-- event in the repeat window (the last repeat_window_days local days ending at the agency's as_of).
-- Variables: ranges (a list of {agency, as_of, first_date (the first local date of the longest window),
-- repeat_first_date (of the repeat window)}; an agency not listed has no rows), count_windows (every window
-- length in days, ascending: the analysis windows and the repeat window), count_columns (a JSON structure
-- naming one BIGINT column n_<days>d per count window, in that order), repeat_min_events.
-- repeat_first_utc (a UTC time a day before the earliest repeat_first_date, to skip old row groups of core.calls).
-- Counts are of countable events (marts.events), except n_repeat_window_all: every non-void event in the repeat
-- window, the calls that are not countable (cancelled, duplicate ...: core.calls.is_countable) included.
-- first_seen / last_seen are UTC (event_at), first_seen_local / last_seen_local the same in the agency zone;
-- days are local dates. marts.repeat_locations adds the point.
-- location_label is what to show for the place: the label of marts.location_labels for a place without an
-- address (its key is a rounded point), else the location_key itself (a premise, an address or a block).
create or replace table marts.repeat_location_rows as
with ranges as (
    select r.agency, r.as_of, r.first_date, r.repeat_first_date
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, as_of date, first_date date,
                                                             repeat_first_date date)[])) as r)
),
events as (
    select e.*, r.as_of, r.repeat_first_date
    from marts.event_dims e
    join ranges r on r.agency = e.agency and e.local_date between r.first_date and r.as_of
    where e.location_key is not null
),
location_labels as (
    select agency, location_key, location_label from marts.location_labels
),
not_countable as (
    -- non-void calls left out of marts.events as not countable, fanned out as marts.event_dims does
    select c.agency, 'calls' as dataset, g.category_group, o.origin_dim as origin, c.location_key
    from core.calls c
    join marts.agency_zones z using (agency)
    join ranges r on r.agency = c.agency
    join marts.category_groups g on g.dataset = 'calls' and (g.category = '*' or g.category = c.call_category)
    join (select unnest(['all', 'community', 'officer', 'unknown']) as origin_dim) o
      on o.origin_dim = 'all' or o.origin_dim = c.origin
    where not c.is_countable and not c.is_void and c.location_key is not null
      and c.event_at >= cast(getvariable('repeat_first_utc') as timestamptz)
      and cast(timezone(z.timezone, c.event_at) as date)
          between r.repeat_first_date and r.as_of
),
not_countable_counts as (
    select agency, dataset, category_group, origin, location_key, count(*) as n_not_countable
    from not_countable
    group by all
),
per_location as (
    select agency, dataset, category_group, origin_dim as origin, location_key,
           -- ties go to the smallest value, so the result does not depend on row order
           mode(address_block order by address_block) as address_block,
           mode(case when is_located then struct_pack(x := x, y := y, lon := lon, lat := lat) end
                order by x, y) as pt,
           list(cast(as_of - local_date as bigint)) as days_ago,
           count(*) filter (where local_date >= repeat_first_date) as n_repeat_window,
           min(event_at) as first_seen, max(event_at) as last_seen, count(distinct local_date) as distinct_days
    from events
    group by all
),
ranked as (
    select *,
           rank() over w as rank,
           sum(n_repeat_window) over (w rows unbounded preceding) /
             sum(n_repeat_window) over (partition by agency, dataset, category_group, origin) as cum_share_events,
           row_number() over w / count(*) over (partition by agency, dataset, category_group, origin)
             as cum_share_locations
    from per_location
    where n_repeat_window > 0
    window w as (partition by agency, dataset, category_group, origin
                 order by n_repeat_window desc, location_key)
),
windowed as (
    -- events per count window: the events fewer than w days before as_of (local dates as_of - w + 1 .. as_of)
    select *,
           map_from_entries(list_zip(
               list_transform(cast(getvariable('count_windows') as bigint[]), lambda w: 'n_' || w || 'd'),
               list_transform(cast(getvariable('count_windows') as bigint[]),
                              lambda w: cast(len(list_filter(days_ago, lambda a: a < w)) as bigint))
           )) as window_counts
    from ranked
),
final as (
    select w.agency, w.dataset, w.category_group, w.origin, w.location_key, w.address_block,
           -- the counts become the columns n_<days>d, named by the count_columns structure
           unnest(from_json(to_json(w.window_counts), getvariable('count_columns'))),
           w.n_repeat_window, w.n_repeat_window + coalesce(nc.n_not_countable, 0) as n_repeat_window_all,
           w.first_seen, w.last_seen, timezone(z.timezone, w.first_seen) as first_seen_local,
           timezone(z.timezone, w.last_seen) as last_seen_local,
           w.distinct_days, w.rank, w.cum_share_events, w.cum_share_locations,
           w.pt.x as x, w.pt.y as y, w.pt.lon as lon, w.pt.lat as lat,
           w.n_repeat_window >= cast(getvariable('repeat_min_events') as bigint) as is_repeat,
           coalesce(l.location_label, w.location_key) as location_label
    from windowed w
    left join marts.agency_zones z on z.agency = w.agency
    left join location_labels l on l.agency = w.agency and l.location_key = w.location_key
    left join not_countable_counts nc
      on nc.agency = w.agency and nc.dataset = w.dataset and nc.category_group = w.category_group
     and nc.origin = w.origin and nc.location_key = w.location_key
)
select * from final;

comment on table marts.repeat_location_rows is 'the rows of marts.repeat_locations without geometry';
comment on column marts.repeat_location_rows.location_label is 'what to show for the place: for a place without an address (location_key XY <x> <y>) the label of marts.location_labels (near <street> (lat, lon), or no address: point at lat, lon and why no street is named), else the location_key (premise, address or block); location_key itself is unchanged';
comment on column marts.repeat_location_rows.location_key is 'the place: premise name, else full address, else block, else the rounded point ''XY <x> <y>'' (analysis CRS)';
comment on column marts.repeat_location_rows.address_block is 'the place''s most frequent block address (ties: the first in order)';
comment on column marts.repeat_location_rows.n_repeat_window is 'countable events at the place in the repeat window (repeat_window_days local days ending at as_of)';
comment on column marts.repeat_location_rows.n_repeat_window_all is 'every non-void event at the place in the repeat window, calls that are not countable (cancelled, duplicate) included';
comment on column marts.repeat_location_rows.first_seen is 'the place''s first countable event in the longest count window, UTC';
comment on column marts.repeat_location_rows.last_seen is 'the place''s last countable event, UTC';
comment on column marts.repeat_location_rows.first_seen_local is 'first_seen in the agency''s zone (no UTC offset)';
comment on column marts.repeat_location_rows.last_seen_local is 'last_seen in the agency''s zone (no UTC offset)';
comment on column marts.repeat_location_rows.distinct_days is 'local dates (agency zone) with at least one event at the place, in the longest count window';
comment on column marts.repeat_location_rows.rank is 'rank by n_repeat_window within agency x dataset x category group x origin (1 = most; ties share a rank)';
comment on column marts.repeat_location_rows.cum_share_events is 'cumulative share (0..1) of the repeat window''s events at this place and every place ranked above it (the 80/20 table)';
comment on column marts.repeat_location_rows.cum_share_locations is 'cumulative share (0..1) of the places, ranked by n_repeat_window';
comment on column marts.repeat_location_rows.x is 'easting of the place''s most frequent located point, analysis CRS, metres; null when none is located';
comment on column marts.repeat_location_rows.y is 'northing of that point, analysis CRS, metres';
comment on column marts.repeat_location_rows.lon is 'longitude of that point, WGS 84 (EPSG:4326)';
comment on column marts.repeat_location_rows.lat is 'latitude of that point, WGS 84 (EPSG:4326)';
comment on column marts.repeat_location_rows.is_repeat is 'n_repeat_window is at least [analysis] repeat_min_events';
