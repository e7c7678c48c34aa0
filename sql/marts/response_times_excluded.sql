-- marts.response_times_excluded: one row per agency x local month (agency zone) x reason with calls left out of
-- marts.response_times, by the first reason that applies (see response_time_calls).
insert into marts.response_times_excluded by name
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
