-- marts.placeholder_points: one row per agency x exact point (x, y in the analysis CRS) that the placeholder rule
-- flags, over all of core (not only the marts' horizon): a coordinate that is not a location (a police station,
-- city hall, a city centroid, a geocoder's default) because it carries far more events, and far more distinct
-- addresses, than any real place.
-- The rule, per agency, over the located events with the feed's own point (geocoded points are left out: a
-- street centroid carries many addresses by design and says so in its precision):
--   n_events    >= max(10 x the median events per point,    placeholder_min_events = 50)      and
--   n_addresses >= max(10 x the median addresses per point, placeholder_min_addresses = 20)
-- Why: a real place can be very busy (a mall, a hospital: many events) but it has one address, or a handful
-- (two spellings of an intersection); a placeholder collects the addresses of every record that failed, so the
-- distinct addresses decide, and the events only ask the point to hold a real share of the data. The bars are
-- medians, not top percentiles, because a top percentile is raised by the very points the rule looks for:
-- measured on the San Francisco calls of ../shared (2016-2020), the points where the geocoder put every
-- intersection of one street it could not resolve (42 intersections of Market St on one point) are over 1 % of
-- its points, so the 99th percentile of addresses per point is 10 and the 99.9th 27, which would hide them; a
-- median moves only when half the points are placeholders. With the usual median of one address and one or two
-- events per point, the floors decide: 20 distinct addresses and 50 events on one exact point; a feed of block
-- points holding several addresses each raises the bar with its median. Events are the ones the marts count
-- (calls countable and not void, incidents not void).
-- Variables: min_events, min_addresses (integers: [analysis] placeholder_min_events, placeholder_min_addresses).
create or replace table marts.placeholder_points as
with calls as (
    select 'calls' as dataset, agency, x, y, lon, lat, address
    from core.calls
    where is_countable and not is_void and is_located and coalesce(geocode_method, 'feed') = 'feed'
),
incidents as (
    select 'incidents' as dataset, agency, x, y, lon, lat, address
    from core.incidents
    where not is_void and is_located and coalesce(geocode_method, 'feed') = 'feed'
),
located as (
    select * from calls
    union all
    select * from incidents
),
points as (
    select agency, x, y, any_value(lon) as lon, any_value(lat) as lat, count(*) as n_events,
           count(distinct address) as n_addresses,
           count(*) filter (where dataset = 'calls') as n_calls,
           count(*) filter (where dataset = 'incidents') as n_incidents
    from located
    group by agency, x, y
),
bars as (
    select agency,
           sum(n_events) as n_agency_events,
           greatest(10 * median(n_events), getvariable('min_events')) as events_bar,
           greatest(10 * median(n_addresses), getvariable('min_addresses')) as addresses_bar
    from points
    group by agency
),
final as (
    select p.agency, p.x, p.y, p.lon, p.lat, p.n_events, p.n_calls, p.n_incidents, p.n_addresses,
           cast(p.n_events as double) / cast(b.n_agency_events as double) as share_of_events,
           cast(b.events_bar as double) as events_bar, cast(b.addresses_bar as double) as addresses_bar
    from points p
    join bars b using (agency)
    where p.n_events >= b.events_bar and p.n_addresses >= b.addresses_bar
)
select * from final
order by agency, n_events desc;

comment on table marts.placeholder_points is 'one row per agency x exact point that is not a real location (a station, city hall, a centroid, a geocoder''s default): n_events >= max(10 x median events per point, placeholder_min_events) and n_addresses >= max(10 x median distinct addresses per point, placeholder_min_addresses), over all of core''s located events with the feed''s own point; their events are flagged location_issue placeholder in marts.events and left out of the spatial units unless [analysis] keep_placeholders';
comment on column marts.placeholder_points.x is 'easting of the point, analysis CRS (metres)';
comment on column marts.placeholder_points.y is 'northing of the point, analysis CRS (metres)';
comment on column marts.placeholder_points.lon is 'longitude of the point, WGS 84';
comment on column marts.placeholder_points.lat is 'latitude of the point, WGS 84';
comment on column marts.placeholder_points.n_events is 'countable, non-void events at exactly this point, all of history';
comment on column marts.placeholder_points.n_calls is 'of them, calls';
comment on column marts.placeholder_points.n_incidents is 'of them, incidents';
comment on column marts.placeholder_points.n_addresses is 'distinct cleaned addresses of those events';
comment on column marts.placeholder_points.share_of_events is 'n_events / the agency''s located events with a feed point (0..1)';
comment on column marts.placeholder_points.events_bar is 'the events a point needed: max(10 x median events per point, placeholder_min_events)';
comment on column marts.placeholder_points.addresses_bar is 'the distinct addresses a point needed: max(10 x median distinct addresses per point, placeholder_min_addresses)';
