-- marts.response_times: one row per agency x priority_level x district x local month (agency zone) of event_at
-- with at least one counted call (response_time_calls with no reason to leave it out): median and 90th
-- percentile (quantile_cont: linear interpolation) of response_s, queue_s and travel_s. Adds the rows of the months
-- to compute (response_month_todo) to the kept table.
insert into marts.response_times by name
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
