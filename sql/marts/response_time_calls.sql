-- response_time_calls (a temporary view, the input of marts.response_times and marts.response_times_excluded):
-- one row per call of core.calls in the agency's whole local months, with its local month (agency zone) and the
-- first reason that leaves it out of the response times, in this order: void, not_countable, officer_initiated,
-- unknown_origin (any origin other than community/officer), cancelled, unknown_time (the call's time of day is
-- unknown), date_only_time (the call's received time, or its on-scene time, is a date without a time of day:
-- response_s is null, never 0 s), no_onscene_time; null when the call counts.
-- The months: from the first month that starts on or after both the agency's first date in marts.horizon and
-- the first day of its calls (marts.coverage) to the last month that ends on or before its as_of
-- (marts.periods): never a month after as_of, never a partial month.
create or replace temp view response_time_calls as
with calls as (
    select * from core.calls
),
zones as (
    select * from marts.agency_zones
),
horizon as (
    select agency, min(first_date) as first_date from marts.horizon group by agency
),
calls_first_days as (
    select agency, min(first_day) as first_day from marts.coverage where dataset = 'calls' group by agency
),
as_of as (
    select agency, as_of from marts.periods where as_of is not null
),
months as (
    -- the first whole local month from both the horizon and the calls' first day on; the last month ending on
    -- or before as_of
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
),
in_horizon as (
    select c.*, z.timezone
    from calls c
    join zones z using (agency)
    join months m using (agency)
    -- a UTC bound a day early lets the scan skip old row groups; the exact bound is the local month
    where c.event_at >= (select min(first_date) from marts.horizon) - interval 1 day
      and date_trunc('month', timezone(z.timezone, c.event_at)) between m.first_month and m.last_month
),
final as (
    select c.*, cast(date_trunc('month', timezone(c.timezone, c.event_at)) as date) as month,
           case when c.is_void then 'void'
                when not c.is_countable then 'not_countable'
                when c.origin = 'officer' then 'officer_initiated'
                when c.origin is distinct from 'community' then 'unknown_origin'
                when c.disposition_category = 'Cancelled' then 'cancelled'
                when c.time_precision = 'unknown_time' then 'unknown_time'
                when c.time_precision = 'date_only' then 'date_only_time'
                when c.response_s is null and contains(coalesce(c.interval_issue, ''), 'response_s:unknown_time')
                    then 'unknown_time'
                when c.response_s is null and contains(coalesce(c.interval_issue, ''), 'response_s:date_only')
                    then 'date_only_time'
                when c.response_s is null then 'no_onscene_time'
           end as reason
    from in_horizon c
)
select * from final;
