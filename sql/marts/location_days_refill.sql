-- The touched places and days of marts.location_days and marts.location_day_events (temporary table
-- location_day_touched, sql/marts/location_days_update.sql) deleted and rebuilt from core (temporary view
-- location_day_domain). Variables: first_utc, last_utc (UTC bounds around the touched days, so core's row
-- groups outside them are skipped).
delete from marts.location_days d
using location_day_touched t
where d.agency = t.agency and d.dataset = t.dataset and d.local_date = t.local_date
  and d.location_key = t.location_key;

delete from marts.location_day_events d
using location_day_touched t
where d.agency = t.agency and d.dataset = t.dataset and d.local_date = t.local_date
  and d.location_key = t.location_key;

create or replace temp table location_day_refill as
select d.*
from location_day_domain d
semi join location_day_touched t using (agency, dataset, local_date, location_key)
where d.event_at between cast(getvariable('first_utc') as timestamptz) and cast(getvariable('last_utc') as timestamptz);

insert into marts.location_days
select agency, dataset, local_date, location_key, category, origin, is_countable, address_block, is_located,
       x, y, lon, lat, count(*) as n, min(event_at) as first_at, max(event_at) as last_at
from location_day_refill
group by all;

insert into marts.location_day_events
select dataset, source, event_id, load_id, agency, local_date, location_key
from location_day_refill;
