-- marts.response_times_agency: the agency-wide rows beside marts.response_times, one per agency x
-- priority_level x local month, with district '(all districts)': the median and 90th percentile of the
-- counted calls themselves (the same calls and months as marts.response_times), never a mean of the district
-- medians (a median of the whole is not a weighted mean of the medians of its parts).
create or replace table marts.response_times_agency as
with counted as (
    select * from response_time_calls where reason is null
),
final as (
    select agency, priority_level, '(all districts)' as district, month,
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
order by agency, priority_level nulls last, month;

comment on table marts.response_times_agency is 'agency-wide rows of marts.response_times (district ''(all districts)''): median and 90th percentile (quantile_cont, linear interpolation) of response_s, queue_s and travel_s per agency x priority_level x local month over the same counted calls, computed from the calls, never from the district rows';
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
