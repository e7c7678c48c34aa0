-- The response-time marts and their side tables, created empty (the first night, a night whose settings
-- signature differs from the one they were built with, or a warehouse without a version history): every month
-- is then computed (transforms/marts/response_months.py). They are kept between nights: a night deletes the
-- months it touched (sql/marts/response_month_touched.sql) and the months that left the agency's period, and
-- computes the months missing from marts.response_months (sql/marts/response_month_todo.sql).
create or replace table marts.response_times (
    agency varchar, priority_level integer, district varchar, month date, n_calls bigint,
    response_s_median double, response_s_p90 double, n_queue bigint, queue_s_median double, queue_s_p90 double,
    n_travel bigint, travel_s_median double, travel_s_p90 double
);
create or replace table marts.response_times_agency (
    agency varchar, priority_level integer, district varchar, month date, n_calls bigint,
    response_s_median double, response_s_p90 double, n_queue bigint, queue_s_median double, queue_s_p90 double,
    n_travel bigint, travel_s_median double, travel_s_p90 double
);
create or replace table marts.response_times_excluded (agency varchar, month date, reason varchar, n_calls bigint);
create or replace table marts.response_months (agency varchar, month date);
create or replace table marts.response_month_loads (load_id varchar);

comment on table marts.response_times is 'median and 90th percentile (quantile_cont, linear interpolation) of response_s, queue_s and travel_s per agency x priority_level x district x local month of event_at, over community calls that are countable, not void, not cancelled, have an exact time of day and a response_s; n_calls = those calls, n_queue / n_travel = how many had that interval; whole months inside the agency''s period (from its horizon and the first day of its calls to the last month ending on or before its as_of); kept between nights: a night recomputes only the months whose calls it changed';
comment on column marts.response_times.agency is 'agency code';
comment on column marts.response_times.priority_level is 'call priority as a number (1 = most urgent); null when the source gives none';
comment on column marts.response_times.district is 'police district of the calls (the feed''s own value, else the district polygon); null when none';
comment on column marts.response_times.month is 'first day of the local month (agency zone) of the calls'' event_at; whole months inside the agency''s period';
comment on column marts.response_times.n_calls is 'counted calls: community, countable, not void, not cancelled, exact time of day, with a response_s';
comment on column marts.response_times.response_s_median is 'median response time, seconds from received to first unit on scene';
comment on column marts.response_times.response_s_p90 is '90th percentile of the response time, seconds (quantile_cont: linear interpolation)';
comment on column marts.response_times.n_queue is 'counted calls with a queue time (queue_s)';
comment on column marts.response_times.queue_s_median is 'median queue time, seconds from entry (else received) to dispatch (core.calls.queue_s)';
comment on column marts.response_times.queue_s_p90 is '90th percentile of the queue time, seconds';
comment on column marts.response_times.n_travel is 'counted calls with a travel time (travel_s)';
comment on column marts.response_times.travel_s_median is 'median travel time, seconds from first dispatch to first unit on scene';
comment on column marts.response_times.travel_s_p90 is '90th percentile of the travel time, seconds';

comment on table marts.response_times_agency is 'agency-wide rows of marts.response_times (district ''(all districts)''): median and 90th percentile (quantile_cont, linear interpolation) of response_s, queue_s and travel_s per agency x priority_level x local month over the same counted calls, computed from the calls, never from the district rows; kept between nights as marts.response_times';
comment on column marts.response_times_agency.agency is 'agency code';
comment on column marts.response_times_agency.priority_level is 'call priority as a number (1 = most urgent); null when the source gives none';
comment on column marts.response_times_agency.district is '''(all districts)'': every call of the agency, whatever its district (null included)';
comment on column marts.response_times_agency.month is 'first day of the local month (agency zone) of the calls'' event_at; whole months inside the agency''s period';
comment on column marts.response_times_agency.n_calls is 'counted calls: community, countable, not void, not cancelled, exact time of day, with a response_s';
comment on column marts.response_times_agency.response_s_median is 'median response time, seconds from received to first unit on scene';
comment on column marts.response_times_agency.response_s_p90 is '90th percentile of the response time, seconds (quantile_cont: linear interpolation)';
comment on column marts.response_times_agency.n_queue is 'counted calls with a queue time (queue_s)';
comment on column marts.response_times_agency.queue_s_median is 'median queue time, seconds from entry (else received) to dispatch (core.calls.queue_s)';
comment on column marts.response_times_agency.queue_s_p90 is '90th percentile of the queue time, seconds';
comment on column marts.response_times_agency.n_travel is 'counted calls with a travel time (travel_s)';
comment on column marts.response_times_agency.travel_s_median is 'median travel time, seconds from first dispatch to first unit on scene';
comment on column marts.response_times_agency.travel_s_p90 is '90th percentile of the travel time, seconds';

comment on table marts.response_times_excluded is 'calls left out of marts.response_times per agency x local month, by the first reason that applies: void, not_countable, officer_initiated, unknown_origin, cancelled, unknown_time, date_only_time (a date without a time of day: no interval, never 0 s), no_onscene_time; kept between nights as marts.response_times';
comment on column marts.response_times_excluded.agency is 'agency code';
comment on column marts.response_times_excluded.month is 'first day of the local month (agency zone) of the calls'' event_at';
comment on column marts.response_times_excluded.reason is 'why the calls are left out (the first that applies): void, not_countable, officer_initiated, unknown_origin, cancelled, unknown_time, date_only_time, no_onscene_time';
comment on column marts.response_times_excluded.n_calls is 'calls of that month left out for that reason';

comment on table marts.response_months is 'the whole local months of each agency''s period whose rows marts.response_times, response_times_agency and response_times_excluded hold (a month with no call is listed too), kept between nights: a month a night touched is deleted and computed again';
comment on column marts.response_months.agency is 'agency code';
comment on column marts.response_months.month is 'first day of the local month (agency zone)';
comment on table marts.response_month_loads is 'the loads whose call versions (core.call_versions: brought or ended by the load) the response-time marts have folded in; a version of any other load marks its local month to compute again';
comment on column marts.response_month_loads.load_id is 'a load (meta.loads) named by core.call_versions.load_id or ended_load_id';
