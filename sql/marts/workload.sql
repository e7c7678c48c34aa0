-- marts.workload: what the calls cost in unit time, per agency x window x call nature x response model x call
-- category x origin x district x hour of the week x unit basis (sql/marts/inputs/workload_calls.sql says what
-- a call's units consumed).
-- Windows: each of the analysis windows (window_days local days ending at the agency's as_of).
-- Variables: windows (integer[]: the analysis windows in days).
create or replace table marts.workload as
with windows as (
    select unnest(cast(getvariable('windows') as integer[])) as window_days
),
calls as (
    select c.*, w.window_days
    from _workload_calls c
    join windows w on c.local_date > c.as_of - w.window_days
),
final as (
    select agency, window_days, call_nature, response_model, call_category, origin, district, slot, unit_basis,
           count(*) as n_calls,
           cast(sum(n_units) as bigint) as n_units,
           cast(sum(n_units_timed) as bigint) as n_units_timed,
           round(sum(busy_s) / 3600.0, 3) as unit_hours,
           round(sum(on_scene_s) / 3600.0, 3) as on_scene_unit_hours,
           round(sum(n_units) / count(*), 3) as units_per_call,
           round(sum(busy_s) / nullif(sum(n_units_timed), 0) / 60.0, 2) as busy_min_per_unit
    from calls
    group by all
)
select * from final
order by agency, window_days, call_nature, response_model, call_category, origin, district, slot;

comment on table marts.workload is 'what the calls cost in unit time: non-void calls (cancelled and duplicate calls included: their units'' time was spent) per agency, window, call nature, response model, call category, origin, district, local hour of the week and unit basis; intervals defined in core.call_units';
comment on column marts.workload.agency is 'agency code';
comment on column marts.workload.window_days is 'the window: this many local days ending at the agency''s as_of (marts.periods)';
comment on column marts.workload.call_nature is 'the call''s standard nature (core.calls.call_nature, config/taxonomy)';
comment on column marts.workload.response_model is 'who could answer it: police_required, co_response, alternative, administrative (core.calls.response_model)';
comment on column marts.workload.call_category is 'sara call category (core.calls.call_category)';
comment on column marts.workload.origin is 'community (a call from the public), officer (self-initiated) or unknown';
comment on column marts.workload.district is 'the call''s district; (unassigned) when it has none';
comment on column marts.workload.slot is 'hour of the week the call was received, local: 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00; null when the call has no time of day';
comment on column marts.workload.unit_basis is 'unit rows: the feed delivers one row per responding unit (core.call_units); call level (one unit assumed): the feed has one row per call, so each call counts one unit and its dispatch-to-clear time';
comment on column marts.workload.n_calls is 'calls';
comment on column marts.workload.n_units is 'responding units, summed over the calls (a call no unit went to counts 0)';
comment on column marts.workload.n_units_timed is 'of those, the units with both an assignment and a clear time (the ones unit_hours sums)';
comment on column marts.workload.unit_hours is 'unit-hours consumed: each unit''s assignment (dispatch, else en route, else arrival) to its clear time, summed, in hours';
comment on column marts.workload.on_scene_unit_hours is 'unit-hours on scene: each unit''s arrival to its clear time, summed, in hours';
comment on column marts.workload.units_per_call is 'n_units / n_calls';
comment on column marts.workload.busy_min_per_unit is 'unit_hours per timed unit, in minutes';
