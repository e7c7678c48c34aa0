-- marts.coverage_geocode: one row per agency x dataset x source x geocode method (feed, history, intersection,
-- interpolated, block, street; 'unlocated' for events without a usable point, 'placeholder' for events at a
-- point of marts.placeholder_points) over the countable, non-void events of all of core: how many events each
-- method placed, their share of the source's events, and the median and 90th percentile of their precision.
-- A placeholder event is counted under 'placeholder', not under the method that gave its point.
create or replace table marts.coverage_geocode as
with calls as (
    select 'calls' as dataset, agency, source, x, y, is_located, geocode_method, geocode_precision_m
    from core.calls
    where is_countable and not is_void
),
incidents as (
    select 'incidents' as dataset, agency, source, x, y, is_located, geocode_method, geocode_precision_m
    from core.incidents
    where not is_void
),
placeholders as (
    select agency, x, y from marts.placeholder_points
),
unioned as (
    select * from calls
    union all
    select * from incidents
),
labelled as (
    select u.dataset, u.agency, u.source, u.geocode_precision_m,
           case
               when not u.is_located then 'unlocated'
               when p.agency is not null then 'placeholder'
               else coalesce(u.geocode_method, 'feed')
           end as method
    from unioned u
    left join placeholders p on p.agency = u.agency and p.x = u.x and p.y = u.y
),
methods as (
    select agency, dataset, source, method,
           count(*) as n_events,
           median(geocode_precision_m) as median_precision_m,
           quantile_cont(geocode_precision_m, 0.9) as p90_precision_m
    from labelled
    group by agency, dataset, source, method
),
final as (
    select agency, dataset, source, method, n_events,
           cast(n_events as double) / cast(sum(n_events) over (partition by agency, dataset, source) as double)
               as share,
           median_precision_m, p90_precision_m
    from methods
)
select * from final
order by agency, dataset, source, n_events desc;

comment on table marts.coverage_geocode is 'one row per agency x dataset x source x geocode method over its countable, non-void events in all of core: how many each method placed (feed: the feed''s own point; history, intersection, interpolated, block, street: the offline geocoder; placeholder: at a point of marts.placeholder_points; unlocated: no usable point) and the spread of their precision';
comment on column marts.coverage_geocode.source is 'source name (config/sources/<source>.yaml)';
comment on column marts.coverage_geocode.method is 'feed, history, intersection, interpolated, block, street, placeholder (whatever gave the point) or unlocated';
comment on column marts.coverage_geocode.n_events is 'countable, non-void events of the source placed this way';
comment on column marts.coverage_geocode.share is 'n_events / all the source''s countable, non-void events (0..1); the shares of a source add up to 1';
comment on column marts.coverage_geocode.median_precision_m is 'median geocode_precision_m of those events, metres; null when none has one (feed points without a declared precision)';
comment on column marts.coverage_geocode.p90_precision_m is '90th percentile of geocode_precision_m, metres; null when none has one';
