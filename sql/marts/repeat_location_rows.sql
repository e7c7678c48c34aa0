-- marts.repeat_location_rows: one row per agency x location_key x dataset x category group x origin with an
-- event in the repeat window (the last repeat_window_days local days ending at the agency's as_of), from the
-- places kept between nights (marts.repeat_places, sql/marts/repeat_places.sql, brought up to date first by
-- transforms/marts/repeat_locations.py): their counts ranked, the 80/20 table, is_repeat and the label.
-- Variables: repeat_min_events.
-- Counts are of countable events (marts.events), except n_repeat_window_all: every non-void event in the repeat
-- window, the calls that are not countable (cancelled, duplicate ...: core.calls.is_countable) included.
-- first_seen / last_seen are UTC (event_at), first_seen_local / last_seen_local the same in the agency zone;
-- days are local dates. marts.repeat_locations adds the point.
-- location_label is what to show for the place: the label of marts.location_labels for a place without an
-- address (its key is a rounded point), else the location_key itself (a premise, an address or a block).
-- the ranking on the keys and counts alone (a window that sorts the whole rows took twice as long)
create or replace temp table _rl_ranks as
select agency, dataset, category_group, origin, location_key,
       rank() over w as rank,
       sum(n_repeat_window) over (w rows unbounded preceding) /
         sum(n_repeat_window) over (partition by agency, dataset, category_group, origin) as cum_share_events,
       row_number() over w / count(*) over (partition by agency, dataset, category_group, origin)
         as cum_share_locations
from marts.repeat_places
where n_repeat_window > 0
window w as (partition by agency, dataset, category_group, origin order by n_repeat_window desc, location_key);

create or replace table marts.repeat_location_rows as
with location_labels as (
    select agency, location_key, location_label from marts.location_labels
),
final as (
    select w.agency, w.dataset, w.category_group, w.origin, w.location_key, w.address_block,
           columns('^n_[0-9]+d$'),  -- the count per window
           w.n_repeat_window, w.n_repeat_window + w.n_not_countable as n_repeat_window_all,
           w.first_seen, w.last_seen, w.first_seen_local, w.last_seen_local,
           w.distinct_days, r.rank, r.cum_share_events, r.cum_share_locations, w.x, w.y, w.lon, w.lat,
           w.n_repeat_window >= cast(getvariable('repeat_min_events') as bigint) as is_repeat,
           coalesce(l.location_label, w.location_key) as location_label
    from marts.repeat_places w
    join _rl_ranks r using (agency, dataset, category_group, origin, location_key)
    left join location_labels l on l.agency = w.agency and l.location_key = w.location_key
)
select * from final;

drop table _rl_ranks;

-- the columns it shares with marts.repeat_places take their comments from there (transforms/marts/repeat_locations.py)
comment on table marts.repeat_location_rows is 'the rows of marts.repeat_locations without geometry';
comment on column marts.repeat_location_rows.location_label is 'what to show for the place: for a place without an address (location_key XY <x> <y>) the label of marts.location_labels (near <street> (lat, lon), or no address: point at lat, lon and why no street is named), else the location_key (premise, address or block); location_key itself is unchanged';
comment on column marts.repeat_location_rows.n_repeat_window_all is 'every non-void event at the place in the repeat window, calls that are not countable (cancelled, duplicate) included';
comment on column marts.repeat_location_rows.rank is 'rank by n_repeat_window within agency x dataset x category group x origin (1 = most; ties share a rank)';
comment on column marts.repeat_location_rows.cum_share_events is 'cumulative share (0..1) of the repeat window''s events at this place and every place ranked above it (the 80/20 table)';
comment on column marts.repeat_location_rows.cum_share_locations is 'cumulative share (0..1) of the places, ranked by n_repeat_window';
comment on column marts.repeat_location_rows.is_repeat is 'n_repeat_window is at least [analysis] repeat_min_events';
