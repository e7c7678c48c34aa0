-- _final_units (session view): the responding units of the load's calls, one row per unit row of the call's
-- newest version, for feeds delivered one row per responding unit (event_grain: unit). Run after calls.sql,
-- whose macros read the intervals (the DST rule, date-only and unknown times) exactly as a call's.
-- _unit_rows (session view, transforms/warehouse/normalize.py unit_row_rule): the rows of _ok2 that are units.
-- When the feed maps unit_id, a row is a unit when it names a unit or carries any unit time (a call no unit
-- was sent to has one row with neither); otherwise every row is one.
-- assigned_at: the unit's first assignment: dispatch, else en route, else arrival (an on-view unit is not
-- dispatched). busy_s: assigned_at to cleared_at, the unit's time committed to the call (unit-hours);
-- travel_s: dispatch to arrival; on_scene_s: arrival to clear. Variables: as calls.sql.
create or replace temp view _final_units as
with unit_rows as (
    select * from _unit_rows
),
assigned as (
    select *,
        coalesce(dispatched_at, enroute_at, onscene_at) as assigned_at,
        case when dispatched_at is not null then _dst_dispatched_at
             when enroute_at is not null then _dst_enroute_at else _dst_onscene_at end as _dst_assigned_at,
        case when dispatched_at is not null then _sara_time_precision('dispatched_at')
             when enroute_at is not null then _sara_time_precision('enroute_at')
             else _sara_time_precision('onscene_at') end as _p_assigned_at
    from unit_rows
),
kinds as (
    select *,
        _sara_interval_kind(assigned_at, cleared_at, _p_assigned_at, _sara_time_precision('cleared_at'),
                            _dst_assigned_at, _dst_cleared_at) as _k_busy,
        _sara_interval_kind(dispatched_at, onscene_at, _sara_time_precision('dispatched_at'),
                            _sara_time_precision('onscene_at'), _dst_dispatched_at, _dst_onscene_at) as _k_travel,
        _sara_interval_kind(onscene_at, cleared_at, _sara_time_precision('onscene_at'),
                            _sara_time_precision('cleared_at'), _dst_onscene_at, _dst_cleared_at) as _k_on_scene
    from assigned
),
raw_intervals as (
    select *,
        _sara_interval_s(_k_busy, assigned_at, cleared_at, _dst_assigned_at, _dst_cleared_at) as _busy,
        _sara_interval_s(_k_travel, dispatched_at, onscene_at, _dst_dispatched_at, _dst_onscene_at) as _travel,
        _sara_interval_s(_k_on_scene, onscene_at, cleared_at, _dst_onscene_at, _dst_cleared_at) as _on_scene
    from kinds
),
final as (
    select
        record_id as call_id,
        getvariable('sara_source') as source,
        getvariable('sara_agency') as agency,
        cast(row_number() over (partition by record_id order by assigned_at nulls last, source_row) as integer)
            as unit_seq,
        unit_id,
        assigned_at, dispatched_at, enroute_at, onscene_at, cleared_at,
        case when _busy >= 0 then _busy end as busy_s,
        case when _travel >= 0 then _travel end as travel_s,
        case when _on_scene >= 0 then _on_scene end as on_scene_s,
        nullif(concat_ws(',',
            'busy_s:' || _k_busy, case when _busy < 0 then 'busy_s<0' end,
            'travel_s:' || _k_travel, case when _travel < 0 then 'travel_s<0' end,
            'on_scene_s:' || _k_on_scene, case when _on_scene < 0 then 'on_scene_s<0' end), '') as interval_issue,
        getvariable('sara_load_id') as load_id,
        source_row
    from raw_intervals
)
select * from final;
