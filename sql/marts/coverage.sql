-- marts.coverage: one row per agency x dataset x source with countable, non-void events in core (all of
-- history): the period it covers, its volume, its outages, its time precision and its located share.
-- first_event_at / last_event_at are UTC (first_event_local / last_event_local: the same in the agency zone);
-- first_day, last_event_day and last_complete_day are local dates (agency zone); the period and its outage days
-- are those of marts.coverage_daily.
create or replace table marts.coverage as
with days as (
    select * from coverage_days
),
daily as (
    select * from marts.coverage_daily
),
volume as (
    select agency, dataset, source,
           min(first_event_at) as first_event_at, max(last_event_at) as last_event_at,
           min(local_date) as first_day, max(local_date) as last_event_day,
           sum(n) as n_events, sum(n_exact) as n_exact, sum(n_date_only) as n_date_only,
           sum(n_unknown_time) as n_unknown_time, sum(n_located) as n_located
    from days
    group by all
),
period as (
    select agency, dataset, source,
           max(local_date) as last_complete_day,
           count(*) as days_in_period,
           count(*) filter (where not is_outage) as days_covered,
           count(*) filter (where is_outage) as n_outage_days,
           count(*) filter (where reason = 'no events') as n_days_without_events,
           min(local_date) filter (where is_outage) as first_outage_day,
           max(local_date) filter (where is_outage) as last_outage_day
    from daily
    group by all
),
final as (
    select v.agency, v.dataset, v.source, v.first_event_at, v.last_event_at,
           timezone(z.timezone, v.first_event_at) as first_event_local,
           timezone(z.timezone, v.last_event_at) as last_event_local, v.first_day, v.last_event_day,
           p.last_complete_day,
           coalesce(p.days_in_period, 0) as days_in_period, coalesce(p.days_covered, 0) as days_covered,
           cast(v.n_events as bigint) as n_events,
           cast(v.n_located as double) / cast(v.n_events as double) as located_share,
           cast(v.n_exact as double) / cast(v.n_events as double) as share_exact,
           cast(v.n_date_only as double) / cast(v.n_events as double) as share_date_only,
           cast(v.n_unknown_time as double) / cast(v.n_events as double) as share_unknown_time,
           coalesce(p.n_outage_days, 0) as n_outage_days,
           coalesce(p.n_days_without_events, 0) as n_days_without_events,
           p.first_outage_day, p.last_outage_day
    from volume v
    left join period p using (agency, dataset, source)
    left join marts.agency_zones z on z.agency = v.agency
)
select * from final
order by agency, dataset, source;

comment on table marts.coverage is 'one row per agency x dataset x source: first_event_at / last_event_at (UTC) and first_day / last_event_day / last_complete_day (local dates) of its countable, non-void events in all of core; days_in_period (first_day .. last_complete_day), days_covered (not outages), n_events, located_share, share_exact / share_date_only / share_unknown_time (time precision), n_outage_days (no events, or far below typical: see marts.coverage_daily), n_days_without_events, first_outage_day, last_outage_day';
comment on column marts.coverage.first_event_at is 'the source''s first countable, non-void event, UTC (event_at)';
comment on column marts.coverage.last_event_at is 'the source''s last countable, non-void event, UTC (event_at)';
comment on column marts.coverage.first_event_local is 'first_event_at in the agency''s zone (no UTC offset)';
comment on column marts.coverage.last_event_local is 'last_event_at in the agency''s zone (no UTC offset)';
comment on column marts.coverage.first_day is 'local date (agency zone) of the first event: the start of the source''s period';
comment on column marts.coverage.last_event_day is 'local date (agency zone) of the last event';
comment on column marts.coverage.last_complete_day is 'the end of the source''s period: last_event_day, or the day before when the newest extract is older than the midnight ending it; never after local today - 1 (local date)';
comment on column marts.coverage.days_in_period is 'local days from first_day to last_complete_day (marts.coverage_daily rows)';
comment on column marts.coverage.days_covered is 'days in the period that are not outages';
comment on column marts.coverage.n_events is 'countable, non-void events of the source in all of core';
comment on column marts.coverage.located_share is 'share (0..1) of those events with a point inside the agency area';
comment on column marts.coverage.share_exact is 'share (0..1) of those events with an exact time';
comment on column marts.coverage.share_date_only is 'share (0..1) with a date but no time of day';
comment on column marts.coverage.share_unknown_time is 'share (0..1) whose time of day is unknown';
comment on column marts.coverage.n_outage_days is 'days in the period that are outages (no events, or far below typical: marts.coverage_daily)';
comment on column marts.coverage.n_days_without_events is 'outage days with no events at all';
comment on column marts.coverage.first_outage_day is 'the first outage day (local date); null with none';
comment on column marts.coverage.last_outage_day is 'the last outage day (local date); null with none';
