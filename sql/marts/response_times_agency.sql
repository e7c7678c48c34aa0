-- marts.response_times_agency: the agency-wide rows beside marts.response_times, one per agency x
-- priority_level x local month, with district '(all districts)': the median and 90th percentile of the
-- counted calls themselves (the same calls and months as marts.response_times), never a mean of the district
-- medians (a median of the whole is not a weighted mean of the medians of its parts).
insert into marts.response_times_agency by name
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
