-- The changes to marts.hotspot_count_rows (transforms/marts/hotspots.py): instead of counting every event of
-- every window again, a night adds to each count what changed since the counts were made. With O the windows
-- the counts were made for and N tonight's (marts.windows), the new counts are the old ones
--   + the events of marts.events (as it is now) on the days in N and not in O, - those on the days in O and
--     not in N (variable days: the days that entered or left each window, with their sign);
--   + the rows marts.events took again tonight (its rows of the records in events_changed) inside O, - the
--     rows it deleted for them inside O (events_removed), each with its units (marts.event_units now, and the
--     rows marts.event_units took away for them: event_units_removed).
-- This writes the changes (the temporary table _hc_delta, signed n); transforms/marts/counts.py adds them to the
-- counts. Counts are integers, so the result is the count a build from scratch gives
-- (sql/marts/hotspot_count_rows.sql; tests/integration/test_incremental_marts.py compares them).
-- Variables: days (a list of {agency, window_days, local_date, sign}: +1 entered, -1 left), old_windows (a list
-- of {agency, window_days, start_date, end_date}: O).
-- The events first, in a table of their own (a few days' events and tonight's records), then their units: in
-- one query with the join on marts.event_units, a night whose windows moved by a day took 1.0-1.1 s at 2M calls
-- against 0.4-0.5 s this way (and the step 5 s at 10M).
create or replace temp table _hc_events as
with days as (
    select d.agency, d.window_days, d.local_date, d.sign
    from (select unnest(cast(getvariable('days') as struct(agency varchar, window_days bigint, local_date date,
                                                           sign integer)[]), recursive := true)) d
),
old_windows as (
    select w.agency, w.window_days, w.start_date, w.end_date
    from (select unnest(cast(getvariable('old_windows') as struct(agency varchar, window_days bigint,
                                                                  start_date date, end_date date)[]),
                        recursive := true)) w
),
-- the events of the days that entered (+1) or left (-1) a window
moved as (
    select e.dataset, e.source, e.event_id, e.agency, e.category, e.origin, d.window_days, d.sign as n
    from marts.events e
    join days d on d.agency = e.agency and d.local_date = e.local_date
    where e.is_located
),
-- the rows taken again tonight, inside the windows the counts were made for
added as (
    select e.dataset, e.source, e.event_id, e.agency, e.category, e.origin, w.window_days, 1 as n
    from marts.events e
    semi join events_changed c on c.dataset = e.dataset and c.source = e.source and c.event_id = e.event_id
    join old_windows w on w.agency = e.agency and e.local_date between w.start_date and w.end_date
    where e.is_located
),
-- the rows deleted for them (with the units they had, below)
removed as (
    select e.dataset, e.source, e.event_id, e.agency, e.category, e.origin, w.window_days, -1 as n
    from events_removed e
    join old_windows w on w.agency = e.agency and e.local_date between w.start_date and w.end_date
    where e.is_located
)
select *, false as was from moved
union all
select *, false from added
union all
select *, true from removed;

create or replace temp table _hc_delta as
with units_now as (
    select * from marts.event_units where unit_id is not null
),
units_before as (
    select * from event_units_removed where unit_id is not null
),
fan_in as (
    select e.agency, e.dataset, e.category, e.origin, u.unit_type, u.unit_id, e.window_days, sum(e.n) as n
    from (select * from _hc_events where not was) e
    join units_now u using (dataset, source, event_id)
    group by all
    union all
    select e.agency, e.dataset, e.category, e.origin, u.unit_type, u.unit_id, e.window_days, sum(e.n) as n
    from (select * from _hc_events where was) e
    join units_before u using (dataset, source, event_id)
    group by all
),
fanned as (
/*{model inputs/fan_out}*/
),
final as (
    select agency, unit_type, unit_id, dataset, category_group, origin_dim as origin, window_days,
           cast(sum(n) as bigint) as n
    from fanned
    group by all
    having sum(n) <> 0
)
select * from final;

drop table _hc_events;
