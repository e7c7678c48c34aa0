-- response_time_calls (a temporary table, the input of marts.response_times, response_times_agency and
-- response_times_excluded, made once so core.calls is read once): one row per call of core.calls in the months
-- to compute (temporary table response_month_todo, made by
-- sql/marts/response_month_todo.sql: whole local months of the agency's period not kept from an earlier night),
-- with its local month (agency zone; through marts.agency_utc_offsets, exactly ICU's wall clock) and the columns
-- the marts read: priority_level, district, response_s, queue_s, travel_s, and the first reason that leaves it out of the response times, in this
-- order: void, not_countable, officer_initiated, unknown_origin (any origin other than community/officer),
-- cancelled, unknown_time (the call's time of day is unknown), date_only_time (the call's received time, or its
-- on-scene time, is a date without a time of day: response_s is null, never 0 s), no_onscene_time; null when the
-- call counts. Variables: first_utc, last_utc (UTC bounds a day wider than the months to compute, so core's row
-- groups outside them are skipped; the exact bound is the local month).
create or replace temp table response_time_calls as
with near as (
    -- the calls on the UTC days around the months to compute (response_month_days): a cheap filter before the
    -- local month, which needs the zone's rules for every call
    select c.*
    from core.calls c
    semi join response_month_days d
        on d.agency = c.agency and d.utc_day = cast(epoch(c.event_at) as bigint) // 86400
    where c.event_at between cast(getvariable('first_utc') as timestamptz)
                         and cast(getvariable('last_utc') as timestamptz)
),
in_months as (
    select c.*, cast(date_trunc('month', sara_local(c.event_at, o.utc_offset_us, z.timezone)) as date) as month
    from near c
    join marts.agency_zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = c.agency and o.utc_day = sara_utc_day(c.event_at)
),
todo as (
    select c.*
    from in_months c
    semi join response_month_todo t using (agency, month)
),
final as (
    select c.agency, c.priority_level, c.district, c.month, c.response_s, c.queue_s, c.travel_s,
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
    from todo c
)
select * from final;
