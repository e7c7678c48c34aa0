-- marts.response_times: one row per agency x priority_level x district x local month (agency zone) of event_at
-- with at least one counted call (response_time_calls with no reason to leave it out): median and 90th
-- percentile (quantile_cont: linear interpolation) of response_s, queue_s and travel_s.
create or replace table marts.response_times as
with counted as (
    select * from response_time_calls where reason is null
),
final as (
    select agency, priority_level, cast(district as varchar) as district, month,
           count(*) as n_calls,
           median(response_s) as response_s_median, quantile_cont(response_s, 0.9) as response_s_p90,
           count(queue_s) as n_queue, median(queue_s) as queue_s_median,
           quantile_cont(queue_s, 0.9) as queue_s_p90,
           count(travel_s) as n_travel, median(travel_s) as travel_s_median,
           quantile_cont(travel_s, 0.9) as travel_s_p90
    from counted
    group by all
)
select * from final
order by agency, priority_level nulls last, district nulls last, month;

comment on table marts.response_times is 'median and 90th percentile (quantile_cont, linear interpolation) of response_s, queue_s and travel_s per agency x priority_level x district x local month of event_at, over community calls that are countable, not void, not cancelled, have an exact time of day and a response_s; n_calls = those calls, n_queue / n_travel = how many had that interval; whole months inside the agency''s period (from its horizon and the first day of its calls to the last month ending on or before its as_of)';
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
