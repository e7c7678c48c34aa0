-- response_time_calls (a temporary view, the input of marts.response_times and marts.response_times_excluded):
-- one row per call of core.calls in whole local months from the agency's first date in marts.horizon on,
-- with its local month (agency zone) and the first reason that leaves it out of the response times, in this
-- order: void, not_countable, officer_initiated, unknown_origin (any origin other than community/officer),
-- cancelled, unknown_time (the call's time of day is unknown), date_only_time (the call's received time, or
-- its on-scene time, is a date without a time of day: response_s is null, never 0 s), no_onscene_time;
-- null when the call counts.
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
first_months as (
    -- the first whole local month of each agency's horizon
    select agency,
           case when day(first_date) = 1 then first_date
                else cast(date_trunc('month', first_date) + interval 1 month as date) end as first_month
    from horizon
),
in_horizon as (
    select c.*, z.timezone
    from calls c
    join zones z using (agency)
    join first_months m using (agency)
    -- a UTC bound a day early lets the scan skip old row groups; the exact bound is the local month
    where c.event_at >= (select min(first_date) from marts.horizon) - interval 1 day
      and date_trunc('month', timezone(z.timezone, c.event_at)) >= m.first_month
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
