-- marts.repeat_places (kept between nights): one row per agency x location_key x dataset x category group x
-- origin with an event in the longest count window (the first_date .. as_of of each agency's range): the counts
-- per window, first and last seen, distinct days, the most frequent block address and point. The places of the
-- temporary table _rl_scope are deleted and made again (fragment scope: a semi join on _rl_scope, or nothing to
-- make every place, the table then being dropped first by transforms/marts/repeat_locations.py).
-- Variables: ranges (a list of {agency, as_of, first_date (the first local date of the longest window),
-- repeat_first_date (of the repeat window)}; an agency not listed has no rows).
-- Fragment window_counts: one BIGINT column n_<days>d per count window (the analysis windows and the repeat
-- window, ascending), written by transforms/marts/repeat_locations.py from the window lengths (integers): a
-- column per window is not something a bound variable can give, and the list aggregate it replaces could not
-- spill to disk at 10M calls.
-- Counts are of countable events, except n_not_countable (the other non-void events of the repeat window:
-- cancelled, duplicate ... calls, core.calls.is_countable). The counts come from marts.location_days, fanned out
-- to category groups and origins as marts.event_dims does, so the answer is the one the events give: the most
-- frequent block address and point are the modes of the events (each aggregate row weighs its n), ties to the
-- first in order (block address; point by x, then y).
-- Separate statements, each with its own memory: one statement holding the fanned-out days, the place, block and
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
/*{scope}*/
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

create or replace temp view _rl_new as
select p.agency, p.dataset, p.category_group, p.origin, p.location_key, b.address_block,
       columns('^n_[0-9]+d$'),  -- the count per window, from window_counts
       p.n_repeat_window, p.n_not_countable, p.first_seen, p.last_seen,
       sara_local(p.first_seen, fs.utc_offset_us, z.timezone) as first_seen_local,
       sara_local(p.last_seen, ls.utc_offset_us, z.timezone) as last_seen_local,
       p.distinct_days, pm.pt.x as x, pm.pt.y as y, pm.pt.lon as lon, pm.pt.lat as lat
from _rl_places p
left join _rl_blocks b using (agency, dataset, category_group, origin, location_key)
left join _rl_points pm using (agency, dataset, category_group, origin, location_key)
left join marts.agency_zones z on z.agency = p.agency
left join marts.agency_utc_offsets fs on fs.agency = p.agency and fs.utc_day = sara_utc_day(p.first_seen)
left join marts.agency_utc_offsets ls on ls.agency = p.agency and ls.utc_day = sara_utc_day(p.last_seen);

create table if not exists marts.repeat_places as
select * from _rl_new where false;

delete from marts.repeat_places p
using _rl_scope s
where p.agency = s.agency and p.dataset = s.dataset and p.location_key = s.location_key;

insert into marts.repeat_places
select * from _rl_new;

drop view _rl_new;
drop view _rl_days;
drop table _rl_places;
drop table _rl_blocks;
drop table _rl_points;

comment on table marts.repeat_places is 'the places of marts.repeat_location_rows before ranking, kept between nights: one row per agency, dataset, category group, origin and place with a countable or other event in the longest count window; a night makes again only the places whose days in a window changed (transforms/marts/repeat_locations.py)';
comment on column marts.repeat_places.category_group is 'category group (marts.category_groups)';
comment on column marts.repeat_places.origin is 'origin: all, community, officer or unknown';
comment on column marts.repeat_places.location_key is 'the place: premise name, else full address, else block, else the rounded point ''XY <x> <y>'' (analysis CRS)';
comment on column marts.repeat_places.address_block is 'the place''s most frequent block address (ties: the first in order)';
comment on column marts.repeat_places.n_repeat_window is 'countable events at the place in the repeat window (repeat_window_days local days ending at as_of)';
comment on column marts.repeat_places.n_not_countable is 'the other non-void events at the place in the repeat window (cancelled, duplicate ... calls)';
comment on column marts.repeat_places.first_seen is 'the place''s first countable event in the longest count window, UTC';
comment on column marts.repeat_places.last_seen is 'the place''s last countable event, UTC';
comment on column marts.repeat_places.first_seen_local is 'first_seen in the agency''s zone (no UTC offset)';
comment on column marts.repeat_places.last_seen_local is 'last_seen in the agency''s zone (no UTC offset)';
comment on column marts.repeat_places.distinct_days is 'local dates (agency zone) with at least one countable event at the place, in the longest count window';
comment on column marts.repeat_places.x is 'easting of the place''s most frequent located point, analysis CRS, metres; null when none is located';
comment on column marts.repeat_places.y is 'northing of that point, analysis CRS, metres';
comment on column marts.repeat_places.lon is 'longitude of that point, WGS 84 (EPSG:4326)';
comment on column marts.repeat_places.lat is 'latitude of that point, WGS 84 (EPSG:4326)';
