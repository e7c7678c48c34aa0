-- Input of marts.coverage_daily: one row per agency x dataset x source x local date (agency zone) inside the
-- source's period, zero days included, with n = its countable, non-void events (coverage_days). The period runs
-- from the source's first event day to its last complete day: its last event day when the source's newest
-- loaded extract (meta.loads.extract_at) is at or after the local midnight ending it, else the day before, and
-- never later than local today - 1. Days before the first event or after the last complete day are outside the
-- period (never outages). The outage days are found in transforms.stats.coverage. Ordered by source and date.
-- Variables: source_agencies (a list of {source, agency}), now_utc (the run's clock, TIMESTAMPTZ).
with days as (
    select * from coverage_days
),
zones as (
    select * from marts.agency_zones
),
loads as (
    select * from meta.loads where status = 'loaded'
),
source_agencies as (
    select s.source, s.agency
    from (select unnest(cast(getvariable('source_agencies') as struct(source varchar, agency varchar)[])) as s)
),
newest_extracts as (
    select sa.agency, l.source, max(l.extract_at) as newest_extract_at
    from loads l
    join source_agencies sa using (source)
    group by all
),
spans as (
    select agency, dataset, source, min(local_date) as first_day, max(local_date) as last_event_day
    from days
    group by all
),
periods as (
    select s.agency, s.dataset, s.source, s.first_day,
           least(case when x.newest_extract_at >= timezone(z.timezone, cast(s.last_event_day + 1 as timestamp))
                      then s.last_event_day
                      else s.last_event_day - 1
                 end,
                 cast(timezone(z.timezone, cast(getvariable('now_utc') as timestamptz)) as date) - 1
           ) as last_complete_day
    from spans s
    join zones z using (agency)
    left join newest_extracts x using (agency, source)
),
calendar as (
    select p.agency, p.dataset, p.source,
           cast(unnest(generate_series(cast(p.first_day as timestamp), cast(p.last_complete_day as timestamp),
                                       interval 1 day)) as date) as local_date
    from periods p
    where p.last_complete_day >= p.first_day
),
counted as (
    select c.agency, c.dataset, c.source, c.local_date, coalesce(d.n, 0) as n
    from calendar c
    left join days d using (agency, dataset, source, local_date)
),
final as (
    select agency, dataset, source, local_date, cast(n as bigint) as n
    from counted
)
select * from final
order by agency, dataset, source, local_date;
