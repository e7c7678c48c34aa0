-- _final (session view): one row per call of the load being normalized (_rec, already one row per call),
-- enriched into the shape of core.calls. What is the same for every source lives here: the crosswalk lookups
-- (call type, initial call type, call category, origin, priority level, disposition category, void and
-- countable), the derived flags (self_initiated, is_countable), the intervals in seconds and their issues,
-- and the place (cleaned and block address, location key, coordinates, beat and district: from the feed,
-- else from the polygon layer).
-- Times are TIMESTAMPTZ in UTC, as staged. A crosswalk the source does not have is an empty table; the
-- sara_has_* variables say which ones it has, because a code is 'Unmapped' only against a crosswalk.
-- Every column of _rec is passed through (raw_* among them); the merge inserts the columns core.calls has.
-- Variables: sara_source, sara_agency, sara_load_id (varchar); sara_location_round_m (double: the grid an
-- XY location key is rounded to); sara_has_call_types, sara_has_dispositions, sara_has_priorities (boolean).
create or replace temp view _final as
with calls as (
    select * from _rec
),
call_types as (
    select * from _xw_call_types
),
dispositions as (
    select * from _xw_dispositions
),
priorities as (
    select * from _xw_priorities
),
addresses as (
    select * from _addr_lookup
),
locations as (
    select * from _loc_lookup
),
beats as (
    select * from _xw_beats
),
districts as (
    select * from _xw_districts
),
enriched as (
    select
        f.* replace (coalesce(cti.call_type, f.call_type_initial) as call_type_initial,
                     a.address_clean as address,
                     -- beat and district: the feed's own value (renamed by its crosswalk, else as
                     -- delivered), else the configured polygon layer's tag; *_source says which one,
                     -- *_polygon keeps the tag for the disagreement check
                     coalesce(xb.beat, f.beat, l.beat) as beat,
                     coalesce(xd.district, f.district, l.district) as district),
        f.record_id as call_id,
        getvariable('sara_source') as source,
        getvariable('sara_agency') as agency,
        coalesce(ct.call_type, f.call_type_code) as call_type,
        case
            when not getvariable('sara_has_call_types') then 'Unmapped'
            when f.call_type_code is null then 'Unknown'
            else coalesce(ct.call_category, 'Unmapped')
        end as call_category,
        case
            when getvariable('sara_has_priorities') then try_cast(pr.priority_level as integer)
            when try_cast(f.priority as integer) between 1 and 5 then try_cast(f.priority as integer)
        end as priority_level,
        case
            when getvariable('sara_has_dispositions') and f.disposition is not null
            then coalesce(dp.disposition_category, 'Unmapped')
        end as disposition_category,
        coalesce(f._origin_src, ct.origin, 'unknown') as origin,
        (f._void_src or coalesce(lower(dp.void) in ('true', '1', 'yes'), false)) as is_void,
        coalesce(lower(dp.countable) not in ('false', '0', 'no'), true) as _disp_countable,
        a.address_block,
        coalesce(
            upper(regexp_replace(trim(f.premise), '\s+', ' ', 'g')), a.address_clean, a.address_block,
            case when l.is_located then
                'XY ' || cast(cast(round(l.x / getvariable('sara_location_round_m'))
                                   * getvariable('sara_location_round_m') as bigint) as varchar)
                || ' ' || cast(cast(round(l.y / getvariable('sara_location_round_m'))
                                    * getvariable('sara_location_round_m') as bigint) as varchar)
            end) as location_key,
        l.lon, l.lat, l.x, l.y,
        coalesce(l.is_located, false) as is_located,
        l.location_issue,
        case when f.beat is not null then 'feed' when l.beat is not null then 'polygon' end as beat_source,
        case when f.district is not null then 'feed' when l.district is not null then 'polygon' end
            as district_source,
        l.beat as beat_polygon,
        l.district as district_polygon,
        getvariable('sara_load_id') as load_id
    from calls f
    left join call_types ct on ct._key = upper(f.call_type_code)
    left join call_types cti on cti._key = upper(f.call_type_initial)
    left join dispositions dp on dp._key = upper(f.disposition)
    left join priorities pr on pr._key = upper(f.priority)
    left join addresses a on a.address = f.address
    left join locations l on l._x_raw is not distinct from f._x_raw and l._y_raw is not distinct from f._y_raw
    left join beats xb on xb._key = upper(f.beat)
    left join districts xd on xd._key = upper(f.district)
),
flagged as (
    select
        * exclude (_disp_countable),
        case when origin = 'officer' then true when origin = 'community' then false end as self_initiated,
        not is_void and duplicate_of is null and linked_to is null and _disp_countable as is_countable,
        epoch(entered_at) - epoch(received_at) as _intake,
        epoch(dispatched_at) - epoch(coalesce(entered_at, received_at)) as _queue,
        epoch(onscene_at) - epoch(dispatched_at) as _travel,
        epoch(onscene_at) - epoch(received_at) as _response,
        epoch(cleared_at) - epoch(onscene_at) as _on_scene
    from enriched
),
final as (
    select
        * exclude (_intake, _queue, _travel, _response, _on_scene),
        case when _intake >= 0 then _intake end as intake_s,
        case when _queue >= 0 then _queue end as queue_s,
        case when _travel >= 0 then _travel end as travel_s,
        case when _response >= 0 then _response end as response_s,
        case when _on_scene >= 0 then _on_scene end as on_scene_s,
        nullif(concat_ws(',',
            case when _intake < 0 then 'intake_s<0' end, case when _queue < 0 then 'queue_s<0' end,
            case when _travel < 0 then 'travel_s<0' end, case when _response < 0 then 'response_s<0' end,
            case when _on_scene < 0 then 'on_scene_s<0' end), '') as interval_issue
    from flagged
)
select * from final;
