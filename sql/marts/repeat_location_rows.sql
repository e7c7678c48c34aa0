-- marts.repeat_location_rows: one row per agency x location_key x dataset x category group x origin with an
-- event in the repeat window (the last repeat_window_days local days ending at the agency's as_of), from the
-- places kept between nights (marts.repeat_places, sql/marts/repeat_places.sql, brought up to date first by
-- transforms/marts/repeat_locations.py): their counts, rank, the 80/20 table, is_repeat and the label.
-- Variables: repeat_min_events.
-- Counts are of countable events (marts.events), except n_repeat_window_all: every non-void event in the repeat
-- window, the calls that are not countable (cancelled, duplicate ...: core.calls.is_countable) included.
-- first_seen / last_seen are UTC (event_at), first_seen_local / last_seen_local the same in the agency zone;
-- days are local dates. marts.repeat_locations adds the point.
-- location_label is what to show for the place: the label of marts.location_labels for a place without an
-- address (its key is a rounded point), else the location_key itself (a premise, an address or a block).
--
-- The ranking is a table of its own, one row per count (marts.repeat_place_ranks: a few hundred rows per agency,
-- dataset, category group and origin), and marts.repeat_location_rows a view joining each place to the row of
-- its count: a place's rank, cumulative shares and is_repeat depend on its count alone, so a night writes the
-- small table again, never a row per place (at 10M calls, writing the ranked places whole took 34 s a night).
-- The 80/20 table is read by count: places with the same count share their cumulative shares (those of every
-- place with at least as many events), as they share their rank; no tie is broken by the place's name.
create or replace table marts.repeat_place_ranks as
with places as (
    select agency, dataset, category_group, origin, n_repeat_window
    from marts.repeat_places
    where n_repeat_window > 0
),
counts as (
    select agency, dataset, category_group, origin, n_repeat_window, count(*) as n_places
    from places
    group by all
),
final as (
    select agency, dataset, category_group, origin, n_repeat_window, n_places,
           cast(sum(n_places) over w - n_places + 1 as bigint) as rank,
           sum(n_places * n_repeat_window) over w / sum(n_places * n_repeat_window) over p as cum_share_events,
           sum(n_places) over w / sum(n_places) over p as cum_share_locations,
           n_repeat_window >= cast(getvariable('repeat_min_events') as bigint) as is_repeat
    from counts
    window p as (partition by agency, dataset, category_group, origin),
           w as (p order by n_repeat_window desc rows unbounded preceding)
)
select * from final;

create or replace view marts.repeat_location_rows as
with location_labels as (
    select agency, location_key, location_label from marts.location_labels
),
final as (
    select w.agency, w.dataset, w.category_group, w.origin, w.location_key, w.address_block,
           columns('^n_[0-9]+d$'),  -- the count per window
           w.n_repeat_window, w.n_repeat_window + w.n_not_countable as n_repeat_window_all,
           w.first_seen, w.last_seen, w.first_seen_local, w.last_seen_local,
           w.distinct_days, r.rank, r.cum_share_events, r.cum_share_locations, w.x, w.y, w.lon, w.lat,
           r.is_repeat, coalesce(l.location_label, w.location_key) as location_label
    from marts.repeat_places w
    join marts.repeat_place_ranks r using (agency, dataset, category_group, origin, n_repeat_window)
    left join location_labels l on l.agency = w.agency and l.location_key = w.location_key
)
select * from final;

-- the columns it shares with marts.repeat_places take their comments from there (transforms/marts/repeat_locations.py)
comment on table marts.repeat_place_ranks is 'the ranking of marts.repeat_location_rows: one row per agency, dataset, category group, origin and count of countable events in the repeat window (n_repeat_window > 0), with the rank, cumulative shares and is_repeat of every place with that count';
comment on column marts.repeat_place_ranks.category_group is 'category group (marts.category_groups)';
comment on column marts.repeat_place_ranks.origin is 'origin: all, community, officer or unknown';
comment on column marts.repeat_place_ranks.n_repeat_window is 'countable events in the repeat window: the count this row ranks';
comment on column marts.repeat_place_ranks.n_places is 'places with exactly this count';
comment on column marts.repeat_place_ranks.rank is 'rank by n_repeat_window within agency x dataset x category group x origin (1 = most): 1 + the places with more events; places with the same count share it';
comment on column marts.repeat_place_ranks.cum_share_events is 'the 80/20 table: share (0..1) of the repeat window''s countable events that are at places with at least this many (this place, every place ranked above it and every place tied with it)';
comment on column marts.repeat_place_ranks.cum_share_locations is 'the 80/20 table: share (0..1) of the places with an event in the repeat window that have at least this many events';
comment on column marts.repeat_place_ranks.is_repeat is 'n_repeat_window is at least [analysis] repeat_min_events';
comment on view marts.repeat_location_rows is 'the rows of marts.repeat_locations without geometry: marts.repeat_places (the places with an event in the repeat window) with the ranking of marts.repeat_place_ranks and the label of marts.location_labels';
comment on column marts.repeat_location_rows.location_label is 'what to show for the place: for a place without an address (location_key XY <x> <y>) the label of marts.location_labels (near <street> (lat, lon), or no address: point at lat, lon and why no street is named), else the location_key (premise, address or block); location_key itself is unchanged';
comment on column marts.repeat_location_rows.n_repeat_window_all is 'every non-void event at the place in the repeat window, calls that are not countable (cancelled, duplicate) included';
