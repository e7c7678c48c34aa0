-- marts.events from scratch: one row per countable event (calls and incidents), the input of every mart (a
-- table, so the marts do not each redo the union and the local dates), from each agency's first date in
-- marts.horizon on (the earliest date any mart needs), so the marts' cost is bounded by their windows, not by
-- history. Kept between nights: sql/marts/events_update.sql brings it up to date (transforms/marts/events.py).
-- Variables: sara_first_utc (sql/marts/inputs/event_rows.sql). Fragments: calls_scope, incidents_scope (empty).
create or replace table marts.events as
/*{model inputs/event_rows}*/;

comment on table marts.events is 'one row per countable, non-void event (calls and incidents) with its local date: the input of every mart, from marts.horizon''s first date on';
comment on column marts.events.event_at is 'the event''s time, UTC: received_at for calls, occurred_from (else reported_at) for incidents (core.*.event_at)';
comment on column marts.events.time_precision is 'of event_at: exact, date_only (no time of day) or unknown_time';
comment on column marts.events.category is 'sara category: call_category (calls) or offense_category (incidents), from the crosswalks';
comment on column marts.events.event_type is 'call type as dispatched (calls) or most serious offense (incidents), decoded';
comment on column marts.events.origin is 'the event''s own origin: community (a call from the public), officer (self-initiated) or unknown';
comment on column marts.events.is_located is 'the event has a point inside the agency area (x/y, lon/lat not null)';
comment on column marts.events.location_issue is 'core''s location_issue, or placeholder when the point is one of marts.placeholder_points (a point that is not a location: left out of the spatial units unless [analysis] keep_placeholders)';
comment on column marts.events.geocode_method is 'how the point was found: feed, history, intersection, interpolated, block, street (core.*.geocode_method)';
comment on column marts.events.geocode_precision_m is 'an honest radius of the point, metres; null for a feed point without a declared precision (core.*.geocode_precision_m)';
comment on column marts.events.occurred_to is 'incidents: end of the occurrence window, UTC (null for calls and single-time incidents)';
comment on column marts.events.local_date is 'local date (agency zone, marts.agency_zones) of event_at';
