-- marts.event_days, counted from scratch: one row per agency x dataset x category x origin x district x beat x
-- local date (agency zone) with its number of events in marts.events (n). What CompStat (sql/marts/compstat.sql)
-- and the restatements (sql/marts/restatements.sql) count instead of the events. transforms/marts/event_days.py
-- keeps it between nights (sql/marts/event_days_delta.sql).
create or replace table marts.event_days as
select agency, dataset, category, origin, district, beat, local_date, count(*) as n
from marts.events
group by all;

comment on table marts.event_days is 'the events of marts.events counted per agency, dataset, category, origin, district, beat and local date, kept between nights (a night adds the records marts.events took again and takes away the rows it deleted): what marts.compstat and marts.restatements count';
comment on column marts.event_days.category is 'sara category: call_category (calls) or offense_category (incidents); null when not mapped';
comment on column marts.event_days.origin is 'the events'' own origin: community, officer or unknown (null when not recorded)';
comment on column marts.event_days.district is 'the events'' district (null when not recorded)';
comment on column marts.event_days.beat is 'the events'' beat (null when not recorded)';
comment on column marts.event_days.local_date is 'local date (agency zone) of the events';
comment on column marts.event_days.n is 'events in the row (at least 1)';
