-- marts.response_times_excluded: one row per agency x local month (agency zone) x reason with calls left out of
-- marts.response_times, by the first reason that applies (see response_time_calls).
create or replace table marts.response_times_excluded as
with excluded as (
    select * from response_time_calls where reason is not null
),
final as (
    select agency, month, reason, count(*) as n_calls
    from excluded
    group by all
)
select * from final
order by agency, month, reason;

comment on table marts.response_times_excluded is 'calls left out of marts.response_times per agency x local month, by the first reason that applies: void, not_countable, officer_initiated, unknown_origin, cancelled, unknown_time, date_only_time (a date without a time of day: no interval, never 0 s), no_onscene_time';
comment on column marts.response_times_excluded.month is 'first day of the local month (agency zone) of the calls'' event_at';
comment on column marts.response_times_excluded.reason is 'why the calls are left out (the first that applies): void, not_countable, officer_initiated, unknown_origin, cancelled, unknown_time, date_only_time, no_onscene_time';
comment on column marts.response_times_excluded.n_calls is 'calls of that month left out for that reason';
-- marts.response_times's column comments: here, in the model run right after it, so that its own file stays as it
-- is (columns added there need their comment here too).
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
