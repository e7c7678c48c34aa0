-- marts.location_days and marts.location_day_events, built from scratch (the first night,
-- or a night whose settings signature differs from the one they were built with): the per-day aggregate of every
-- non-void event with a location_key (temporary view location_day_domain), the day and place each counted
-- version is on (the loads folded in: sql/marts/location_day_loads.sql). transforms/marts/location_days.py keeps
-- them night after night (sql/marts/location_days_update.sql).
create or replace table marts.location_days as
select agency, dataset, local_date, location_key, category, origin, is_countable, address_block, is_located,
       x, y, lon, lat, count(*) as n, min(event_at) as first_at, max(event_at) as last_at
from location_day_domain
group by all;

create or replace table marts.location_day_events as
select dataset, source, event_id, load_id, agency, local_date, location_key
from location_day_domain;
