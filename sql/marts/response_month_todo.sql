-- Each agency's whole local months (temporary table response_month_window): from the first month that starts on
-- or after both its first date in marts.horizon and the first day of its calls (marts.coverage) to the last
-- month that ends on or before its as_of (marts.periods): never a month after as_of, never a partial month.
-- The kept response-time marts lose the months outside it (the period moved, an agency left); the months of
-- the window not in marts.response_months (new in the window, or touched by the night) are left in the
-- temporary table response_month_todo (agency, month) for sql/marts/response_time_calls.sql, with the UTC days
-- (days since 1970-01-01) that can hold their calls (response_month_days: a day wider on each side, as a zone is
-- less than a day off UTC), so that only those calls need their local month computed.
create or replace temp table response_month_window as
with horizon as (
    select agency, min(first_date) as first_date from marts.horizon group by agency
),
calls_first_days as (
    select agency, min(first_day) as first_day from marts.coverage where dataset = 'calls' group by agency
),
as_of as (
    select agency, as_of from marts.periods where as_of is not null
),
months as (
    select h.agency,
           cast(case when day(greatest(h.first_date, f.first_day)) = 1 then greatest(h.first_date, f.first_day)
                     else date_trunc('month', greatest(h.first_date, f.first_day)) + interval 1 month
                end as date) as first_month,
           cast(case when day(a.as_of + 1) = 1 then date_trunc('month', a.as_of)
                     else date_trunc('month', a.as_of) - interval 1 month
                end as date) as last_month
    from horizon h
    join calls_first_days f using (agency)
    join as_of a using (agency)
)
select agency, cast(unnest(range(cast(first_month as timestamp), cast(last_month as timestamp) + interval 1 month,
                                 interval 1 month)) as date) as month
from months
where first_month <= last_month;

delete from marts.response_times
where (agency, month) not in (select (agency, month) from response_month_window);
delete from marts.response_times_agency
where (agency, month) not in (select (agency, month) from response_month_window);
delete from marts.response_times_excluded
where (agency, month) not in (select (agency, month) from response_month_window);
delete from marts.response_months
where (agency, month) not in (select (agency, month) from response_month_window);

create or replace temp table response_month_todo as
select agency, month from response_month_window
except
select agency, month from marts.response_months;

create or replace temp table response_month_days as
with bounds as (
    select agency, cast(epoch(cast(month as timestamp)) as bigint) // 86400 - 1 as first_day,
           cast(epoch(cast(month as timestamp) + interval 1 month) as bigint) // 86400 + 1 as last_day
    from response_month_todo
)
select distinct agency, unnest(range(first_day, last_day + 1)) as utc_day
from bounds;
