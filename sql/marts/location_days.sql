-- marts.location_days, marts.location_day_events, marts.location_day_loads, built from scratch (the first night,
-- or a night whose settings signature differs from the one they were built with): the per-day aggregate of every
-- non-void event with a location_key (temporary view location_day_domain), the day and place each counted
-- version is on, and the loads folded in. transforms/marts/location_days.py keeps them night after night
-- (sql/marts/location_days_update.sql).
create or replace table marts.location_days as
select agency, dataset, local_date, location_key, category, origin, is_countable, address_block, is_located,
       x, y, lon, lat, count(*) as n, min(event_at) as first_at, max(event_at) as last_at
from location_day_domain
group by all;

create or replace table marts.location_day_events as
select dataset, source, event_id, load_id, agency, local_date, location_key
from location_day_domain;

create or replace table marts.location_day_loads as
-- the loads of core's rows and the loads that ended a version (a dropped record has no row)
select load_id from core.calls
union
select load_id from core.incidents
union
select ended_load_id from core.call_versions where ended_load_id is not null
union
select ended_load_id from core.incident_versions where ended_load_id is not null;
