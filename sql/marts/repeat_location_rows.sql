-- marts.repeat_location_rows: one row per agency x location_key x dataset x category group x origin with an
-- event in the repeat window (the last repeat_window_days local days ending at the agency's as_of).
-- Variables: ranges (a list of {agency, as_of, first_date (the first local date of the longest window),
-- repeat_first_date (of the repeat window)}; an agency not listed has no rows), count_windows (every window
-- length in days, ascending: the analysis windows and the repeat window), count_columns (a JSON structure
-- naming one BIGINT column n_<days>d per count window, in that order), repeat_min_events.
-- first_seen / last_seen are UTC (event_at); days are local dates. marts.repeat_locations adds the point.
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
    select agency, dataset, category_group, origin, location_key, address_block,
           -- the counts become the columns n_<days>d, named by the count_columns structure
           unnest(from_json(to_json(window_counts), getvariable('count_columns'))),
           n_repeat_window, first_seen, last_seen, distinct_days, rank, cum_share_events, cum_share_locations,
           pt.x as x, pt.y as y, pt.lon as lon, pt.lat as lat,
           n_repeat_window >= cast(getvariable('repeat_min_events') as bigint) as is_repeat
    from windowed
)
select * from final;

comment on table marts.repeat_location_rows is 'the rows of marts.repeat_locations without geometry';
