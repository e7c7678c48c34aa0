-- marts.occupancy: the staffing curve, per agency x district (and '(all)') x window x local hour of the week:
-- calls received per hour against units busy per hour, both averaged over the times that hour of the week
-- occurs in the window. A unit is busy from its assignment to its clear (sql/marts/inputs/workload_calls.sql);
-- its busy time is split over the local clock hours it spans, and only the part inside the window counts.
-- A busy interval over 24 hours is left out (a clear time a day late is a data problem) and counted in
-- n_units_left_out. Variables: windows (integer[]).
create or replace table marts.occupancy as
with windows as (
    select unnest(cast(getvariable('windows') as integer[])) as window_days
),
agencies as (
    select distinct agency, as_of from _workload_calls
),
days as (
    -- how often each weekday occurs in each window
    select a.agency, w.window_days, cast(isodow(d) - 1 as tinyint) as weekday, count(*) as n_days
    from agencies a
    cross join windows w
    cross join lateral (select unnest(generate_series(cast(a.as_of - w.window_days + 1 as timestamp),
                                                      cast(a.as_of as timestamp), interval 1 day)) as d)
    group by all
),
calls as (
    select c.agency, d.district, w.window_days, c.slot
    from _workload_calls c
    join windows w on c.local_date > c.as_of - w.window_days
    cross join (select unnest([c.district, '(all)']) as district) d
    where c.slot is not null
),
call_counts as (
    select agency, district, window_days, slot, count(*) as n_calls from calls group by all
),
intervals as (
    select c.agency, c.district, c.as_of, unnest(c.intervals) as iv
    from _workload_calls c
),
long_left_out as (
    select agency, d.district, count(*) as n_units_left_out
    from intervals i
    cross join (select unnest([i.district, '(all)']) as district) d
    where iv.b - iv.a > interval 24 hour
    group by all
),
pieces as (
    select i.agency, i.district, i.as_of, h,
           epoch(least(iv.b, h + interval 1 hour)) - epoch(greatest(iv.a, h)) as busy_s
    from intervals i
    cross join lateral (select unnest(generate_series(date_trunc('hour', i.iv.a), i.iv.b, interval 1 hour)) as h)
    where iv.b > iv.a and iv.b - iv.a <= interval 24 hour
),
busy as (
    select p.agency, d.district, w.window_days, cast((isodow(p.h) - 1) * 24 + hour(p.h) as smallint) as slot,
           sum(p.busy_s) as busy_s
    from pieces p
    join windows w on cast(p.h as date) between p.as_of - w.window_days + 1 and p.as_of
    cross join (select unnest([p.district, '(all)']) as district) d
    where p.busy_s > 0
    group by all
),
grid as (
    -- every hour of the week of every district that has a call or a busy unit in the window
    select k.agency, k.district, k.window_days, s.slot
    from (select agency, district, window_days from call_counts union
          select agency, district, window_days from busy) k
    cross join (select cast(unnest(range(168)) as smallint) as slot) s
),
final as (
    select g.agency, g.district, g.window_days, g.slot, cast(g.slot // 24 as tinyint) as weekday,
           cast(g.slot % 24 as tinyint) as hour, d.n_days as n_hours,
           coalesce(c.n_calls, 0) as n_calls,
           round(coalesce(c.n_calls, 0) / d.n_days, 3) as calls_per_hour,
           round(coalesce(b.busy_s, 0) / 3600.0 / d.n_days, 3) as units_busy,
           coalesce(l.n_units_left_out, 0) as n_units_left_out
    from grid g
    join days d on d.agency = g.agency and d.window_days = g.window_days and d.weekday = g.slot // 24
    left join call_counts c
      on c.agency = g.agency and c.district = g.district and c.window_days = g.window_days and c.slot = g.slot
    left join busy b
      on b.agency = g.agency and b.district = g.district and b.window_days = g.window_days and b.slot = g.slot
    left join long_left_out l on l.agency = g.agency and l.district = g.district
)
select * from final
order by agency, district, window_days, slot;

comment on table marts.occupancy is 'the staffing curve: calls received per hour against units busy per hour, per agency, district ((all) = the whole agency), window and local hour of the week, each averaged over the times that hour occurs in the window; a unit is busy from assignment to clear (core.call_units; one unit per call for feeds with one row per call, marts.workload.unit_basis)';
comment on column marts.occupancy.agency is 'agency code';
comment on column marts.occupancy.district is 'district of the calls; (all) = the whole agency; (unassigned) = calls without one';
comment on column marts.occupancy.window_days is 'the window: this many local days ending at the agency''s as_of';
comment on column marts.occupancy.slot is 'hour of the week, local: 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00';
comment on column marts.occupancy.weekday is '0 = Monday ... 6 = Sunday (local)';
comment on column marts.occupancy.hour is 'hour of the day 0..23 (local)';
comment on column marts.occupancy.n_hours is 'how many times this hour of the week occurs in the window (the divisor of both rates)';
comment on column marts.occupancy.n_calls is 'calls received in this hour of the week over the window (calls with a time of day)';
comment on column marts.occupancy.calls_per_hour is 'n_calls / n_hours';
comment on column marts.occupancy.units_busy is 'average number of units busy on calls during this hour: busy unit-seconds falling in it / 3600 / n_hours';
comment on column marts.occupancy.n_units_left_out is 'units of the district''s calls (in the longest window) whose busy interval is over 24 hours, left out of units_busy';
