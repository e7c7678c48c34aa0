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
