-- _workload_calls (session temp table), the input of marts.workload and marts.occupancy: one row per non-void
-- call received in its agency's longest analysis window, with what its units consumed.
-- Unit-grain feeds (the variable unit_sources; core.call_units): n_units = its unit rows, busy_s the sum of
-- the units' busy_s (assignment to clear), on_scene_s the sum of their on-scene seconds, and each unit's
-- local busy interval in `intervals` (for the occupancy curve). Feeds with one row per call: one unit assumed
-- (unit_basis says so), busy_s = dispatch to clear (travel_s + on_scene_s; on_scene_s alone for a call with
-- no dispatch, e.g. on-view), on_scene_s the call's.
-- Void calls are left out; cancelled and duplicate calls (not countable) stay: their units' time was spent.
-- Variables: ranges (a list of {agency, as_of, first_date}), unit_sources (varchar[]), first_utc (a UTC time
-- a day before the earliest first_date, to skip old row groups).
create or replace temp table _workload_calls as
with ranges as (
    select r.agency, r.as_of, r.first_date
    from (select unnest(cast(getvariable('ranges') as struct(agency varchar, as_of date, first_date date)[])) as r)
),
calls as (
    select c.agency, c.source, c.call_id, c.origin, c.call_category, c.call_nature, c.response_model,
           c.time_precision,
           coalesce(c.district, '(unassigned)') as district,
           cast(sara_local(c.event_at, o.utc_offset_us, z.timezone) as date) as local_date,
           cast(sara_local(c.event_at, o.utc_offset_us, z.timezone) as timestamp) as local_at,
           z.timezone, c.dispatched_at, c.onscene_at, c.cleared_at, c.on_scene_s,
           -- a call-level unit: dispatch to clear, or arrival to clear without a dispatch (on-view); null when
           -- either end is missing (an interval is null then: sql/core/calls.sql), so it needs arrival and clear
           case when c.dispatched_at is null then c.on_scene_s else c.travel_s + c.on_scene_s end as call_busy_s,
           r.as_of,
           list_contains(cast(getvariable('unit_sources') as varchar[]), c.source) as unit_grain
    from core.calls c
    join marts.agency_zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = c.agency and o.utc_day = sara_utc_day(c.event_at)
    join ranges r using (agency)
    where not c.is_void and c.event_at >= cast(getvariable('first_utc') as timestamptz)
      and cast(sara_local(c.event_at, o.utc_offset_us, z.timezone) as date)
          between r.first_date and r.as_of
),
units as (
    select c.source, c.call_id, count(*) as n_units, count(u.busy_s) as n_units_timed, sum(u.busy_s) as busy_s,
           sum(u.on_scene_s) as on_scene_s,
           list(struct_pack(a := cast(sara_local(u.assigned_at, oa.utc_offset_us, c.timezone) as timestamp),
                            b := cast(sara_local(u.cleared_at, ob.utc_offset_us, c.timezone) as timestamp)))
               filter (where u.busy_s is not null) as intervals
    from calls c
    join core.call_units u on u.source = c.source and u.call_id = c.call_id
    left join marts.agency_utc_offsets oa on oa.agency = c.agency and oa.utc_day = sara_utc_day(u.assigned_at)
    left join marts.agency_utc_offsets ob on ob.agency = c.agency and ob.utc_day = sara_utc_day(u.cleared_at)
    where c.unit_grain
    group by all
),
final as (
    select c.agency, c.source, c.call_id, c.origin, c.call_category, c.call_nature, c.response_model,
           c.district, c.local_date, c.as_of,
           -- hour of the week, local: 0 = Monday 00:00-01:00; null when the call has no time of day
           case when c.time_precision = 'exact'
                then cast((isodow(c.local_at) - 1) * 24 + hour(c.local_at) as smallint) end as slot,
           case when c.unit_grain then 'unit rows' else 'call level (one unit assumed)' end as unit_basis,
           case when c.unit_grain then coalesce(u.n_units, 0) else 1 end as n_units,
           case when c.unit_grain then coalesce(u.n_units_timed, 0)
                else cast(c.call_busy_s is not null as integer) end as n_units_timed,
           case when c.unit_grain then u.busy_s else c.call_busy_s end as busy_s,
           case when c.unit_grain then u.on_scene_s else c.on_scene_s end as on_scene_s,
           case when c.unit_grain then coalesce(u.intervals, [])
                when c.call_busy_s is not null
                then [struct_pack(a := cast(sara_local(coalesce(c.dispatched_at, c.onscene_at), oa.utc_offset_us,
                                                        c.timezone) as timestamp),
                                  b := cast(sara_local(c.cleared_at, ob.utc_offset_us, c.timezone) as timestamp))]
                else [] end as intervals
    from calls c
    left join units u on u.source = c.source and u.call_id = c.call_id
    left join marts.agency_utc_offsets oa
        on oa.agency = c.agency and oa.utc_day = sara_utc_day(coalesce(c.dispatched_at, c.onscene_at))
    left join marts.agency_utc_offsets ob on ob.agency = c.agency and ob.utc_day = sara_utc_day(c.cleared_at)
)
select * from final;
