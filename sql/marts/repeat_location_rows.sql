-- marts.repeat_location_rows: one row per agency x location_key x dataset x category group x origin with an
-- event in the repeat window (the last repeat_window_days local days ending at the agency's as_of).
-- Variables: ranges (a list of {agency, as_of, first_date (the first local date of the longest window),
-- repeat_first_date (of the repeat window)}; an agency not listed has no rows), repeat_min_events.
-- Fragment: window_counts, one BIGINT column n_<days>d per count window (the analysis windows and the repeat
-- window, ascending), written by transforms/marts/repeat_locations.py from the window lengths (integers): a
-- column per window is not something a bound variable can give, and the list aggregate it replaces could not
-- spill to disk at 10M calls.
-- Counts are of countable events (marts.events), except n_repeat_window_all: every non-void event in the repeat
-- window, the calls that are not countable (cancelled, duplicate ...: core.calls.is_countable) included.
-- first_seen / last_seen are UTC (event_at), first_seen_local / last_seen_local the same in the agency zone;
-- days are local dates. marts.repeat_locations adds the point.
-- location_label is what to show for the place: the label of marts.location_labels for a place without an
-- address (its key is a rounded point), else the location_key itself (a premise, an address or a block).
-- The counts come from marts.location_days (the per-day aggregate kept between nights,
-- transforms/marts/location_days.py), fanned out to category groups and origins as marts.event_dims does, so the
-- answer is the one the events give: the most frequent block address and point are the modes of the events
-- (each aggregate row weighs its n), ties to the first in order (block address; point by x, then y).
-- Six statements, each with its own memory: one statement holding the fanned-out days, the place, block and
-- point aggregates and the ranking at once ran out of memory at 10M calls with memory_limit 4GB.
create or replace temp view _rl_days as
with ranges as (
    select r.agency, r.as_of, r.first_date, r.repeat_first_date
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, as_of date, first_date date,
                                                             repeat_first_date date)[])) as r)
),
origin_dims as (
    select unnest(['all', 'community', 'officer', 'unknown']) as origin_dim
)
-- the aggregate's rows in the longest count window, one per category group and origin dimension they are in
select a.*, r.as_of, r.repeat_first_date, g.category_group, o.origin_dim
from marts.location_days a
join ranges r on r.agency = a.agency and a.local_date between r.first_date and r.as_of
join marts.category_groups g on g.dataset = a.dataset and (g.category = '*' or g.category = a.category)
join origin_dims o on o.origin_dim = 'all' or o.origin_dim = a.origin;

create or replace temp table _rl_places as
with place_days as (
    -- one row per place x category group x origin x local date: the day's countable and other events (two
    -- GROUP BYs in place of a count(DISTINCT local_date) in one, which held far more memory at 10M calls)
    select agency, dataset, category_group, origin_dim as origin, location_key, local_date, as_of,
           repeat_first_date,
           coalesce(sum(n) filter (where is_countable), 0) as n_countable,
           coalesce(sum(n) filter (where not is_countable), 0) as n_other,
           min(first_at) filter (where is_countable) as first_at,
           max(last_at) filter (where is_countable) as last_at
    from _rl_days
    group by all
)
-- counts of countable events (the longest window; n_repeat_window: the repeat window), and the events that
-- are not countable (cancelled, duplicate ... calls) in the repeat window
select agency, dataset, category_group, origin, location_key,
       /*{window_counts}*/
       cast(coalesce(sum(n_countable) filter (where local_date >= repeat_first_date), 0) as bigint)
         as n_repeat_window,
       cast(coalesce(sum(n_other) filter (where local_date >= repeat_first_date), 0) as bigint)
         as n_not_countable,
       min(first_at) as first_seen,
       max(last_at) as last_seen,
       count(*) filter (where n_countable > 0) as distinct_days
from place_days
group by agency, dataset, category_group, origin, location_key;

create or replace temp table _rl_blocks as
with blocks as (
    select agency, dataset, category_group, origin_dim as origin, location_key, address_block, sum(n) as n
    from _rl_days
    where is_countable and address_block is not null
    group by all
)
select agency, dataset, category_group, origin, location_key,
       first(address_block order by n desc, address_block) as address_block
from blocks
group by all;

create or replace temp table _rl_points as
with points as (
    select agency, dataset, category_group, origin_dim as origin, location_key, x, y, lon, lat, sum(n) as n
    from _rl_days
    where is_countable and is_located
    group by all
)
select agency, dataset, category_group, origin, location_key,
       first(struct_pack(x := x, y := y, lon := lon, lat := lat) order by n desc, x, y) as pt
from points
group by all;

-- the ranking on the keys and counts alone (a window that sorts the whole rows, blocks and points joined in,
-- took twice as long)
create or replace temp table _rl_ranks as
select agency, dataset, category_group, origin, location_key,
       rank() over w as rank,
       sum(n_repeat_window) over (w rows unbounded preceding) /
         sum(n_repeat_window) over (partition by agency, dataset, category_group, origin) as cum_share_events,
       row_number() over w / count(*) over (partition by agency, dataset, category_group, origin)
         as cum_share_locations
from _rl_places
where n_repeat_window > 0
window w as (partition by agency, dataset, category_group, origin order by n_repeat_window desc, location_key);

create or replace table marts.repeat_location_rows as
with location_labels as (
    select agency, location_key, location_label from marts.location_labels
),
ranked as (
    select p.*, r.rank, r.cum_share_events, r.cum_share_locations, b.address_block, pm.pt
    from _rl_places p
    join _rl_ranks r using (agency, dataset, category_group, origin, location_key)
    left join _rl_blocks b using (agency, dataset, category_group, origin, location_key)
    left join _rl_points pm using (agency, dataset, category_group, origin, location_key)
),
final as (
    select w.agency, w.dataset, w.category_group, w.origin, w.location_key, w.address_block,
           columns('^n_[0-9]+d$'),  -- the count per window, from window_counts
           w.n_repeat_window, w.n_repeat_window + w.n_not_countable as n_repeat_window_all,
           w.first_seen, w.last_seen, sara_local(w.first_seen, fs.utc_offset_us, z.timezone) as first_seen_local,
           sara_local(w.last_seen, ls.utc_offset_us, z.timezone) as last_seen_local,
           w.distinct_days, w.rank, w.cum_share_events, w.cum_share_locations,
           w.pt.x as x, w.pt.y as y, w.pt.lon as lon, w.pt.lat as lat,
           w.n_repeat_window >= cast(getvariable('repeat_min_events') as bigint) as is_repeat,
           coalesce(l.location_label, w.location_key) as location_label
    from ranked w
    left join marts.agency_zones z on z.agency = w.agency
    left join marts.agency_utc_offsets fs on fs.agency = w.agency and fs.utc_day = sara_utc_day(w.first_seen)
    left join marts.agency_utc_offsets ls on ls.agency = w.agency and ls.utc_day = sara_utc_day(w.last_seen)
    left join location_labels l on l.agency = w.agency and l.location_key = w.location_key
)
select * from final;

drop view _rl_days;
drop table _rl_places;
drop table _rl_blocks;
drop table _rl_points;
drop table _rl_ranks;

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
