-- _final (session view): one row per call of the load being normalized (_rec, already one row per call),
-- enriched into the shape of core.calls. What is the same for every source lives here: the crosswalk lookups
-- (call type, initial call type, call category, call nature and response model (natures.sql), origin, priority
-- level, disposition category, void and countable), the derived flags (self_initiated, is_countable), the intervals in seconds and their issues,
-- the DST flags of the times, and the place (cleaned and block address, location key, coordinates, beat and
-- district: from the feed, else from the polygon layer).
-- Times are TIMESTAMPTZ in UTC, as staged. A crosswalk the source does not have is an empty table; the
-- sara_has_* variables say which ones it has, because a code is 'Unmapped' only against a crosswalk.
-- Every column of _rec is passed through (raw_* among them); the merge inserts the columns core.calls has.
--
-- Intervals (intake_s, queue_s, travel_s, response_s, on_scene_s) are seconds between two times of the call:
-- - NULL when either end is missing;
-- - NULL and named '<interval>:unknown_time' / '<interval>:date_only' in interval_issue when either end is
--   not an exact time of day (the call's time of day is unknown: received_at; or the time's precision is
--   date_only): a date is never a 0 s interval;
-- - when either end is a local time in a DST gap or overlap (its _dst_<time> code is not 0), named
--   '<interval>:dst_change' and read by the DST interval rule: each such end has two readings, before the
--   change (a gap time with the offset before the gap, the documented reading; an overlap time as its first,
--   daylight instant) and after it (a gap time with the offset after the gap, as the clock showed it once it
--   sprang forward; an overlap time as its second, standard instant, the documented reading). Of the
--   readings a clock that only moves forward allows (the later end is never before the change when the
--   earlier one is after it), the interval is the shortest that is not negative; when none is, the
--   documented readings'. The wall-clock difference is always one of them, so an in-order wall-clock
--   sequence never becomes negative;
-- - otherwise from the UTC instants;
-- - NULL and named '<interval><0' when negative.
-- DST codes (transforms/warehouse/dst.py): 0 ordinary local reading, +s in a spring-forward gap of s seconds,
-- -s in an autumn overlap of s seconds, NULL not read from local text. time_issue gets dst_gap_<time> /
-- dst_overlap_<time> for each time in a gap or overlap.
-- Variables: sara_source, sara_agency, sara_load_id (varchar); sara_feed_precision_m (double or null: the
-- precision a feed point is given, geocode.feed_precision_m); sara_location_round_m (double: the grid an
-- XY location key is rounded to); sara_has_call_types, sara_has_dispositions, sara_has_priorities (boolean);
-- sara_date_only_times (varchar: comma-separated names of the times whose precision is date_only).
create or replace temp macro _sara_before_change(x, code) as (
    -- epoch seconds of a time read as before the DST change: an overlap time's first (daylight) instant
    epoch(x) + case when code < 0 then code else 0 end
);
create or replace temp macro _sara_after_change(x, code) as (
    -- ... read as after the change: a gap time with the offset after the gap
    epoch(x) - case when code > 0 then code else 0 end
);
create or replace temp macro _sara_interval_kind(a, b, pa, pb, ca, cb) as (
    -- how an interval with both ends is read: null = from the UTC instants
    case
        when a is null or b is null then null
        when pa = 'unknown_time' or pb = 'unknown_time' then 'unknown_time'
        when pa <> 'exact' or pb <> 'exact' then 'date_only'
        when coalesce(ca, 0) <> 0 or coalesce(cb, 0) <> 0 then 'dst_change'
    end
);
create or replace temp macro _sara_interval_s(kind, a, b, ca, cb) as (
    case
        when kind is null then epoch(b) - epoch(a)
        when kind = 'dst_change' then coalesce(
            list_min(list_filter([_sara_before_change(b, cb) - _sara_before_change(a, ca),
                                  _sara_after_change(b, cb) - _sara_before_change(a, ca),
                                  _sara_after_change(b, cb) - _sara_after_change(a, ca)], d -> d >= 0)),
            epoch(b) - epoch(a))
    end
);
create or replace temp macro _sara_time_precision(name) as (
    case when list_contains(string_split(getvariable('sara_date_only_times'), ','), name) then 'date_only'
         else 'exact' end
);
create or replace temp macro _sara_dst_issue(code, name) as (
    case when code > 0 then 'dst_gap_' || name when code < 0 then 'dst_overlap_' || name end
);
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
        -- a located point here is the feed's own: method feed, precision as the source declares it (null:
        -- taken as exact); the geocoding hook (transforms/warehouse/geocoding.py) fills these for the rows it
        -- places after the merge
        case when l.is_located then 'feed' end as geocode_method,
        case when l.is_located then cast(getvariable('sara_feed_precision_m') as double) end
            as geocode_precision_m,
        case when l.is_located then getvariable('sara_source') end as geocode_source,
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
natured as (
    -- the call's nature (reviewed crosswalk rows only) and response model, by the rules of natures.sql
    select e.*, m.response_model as _nature_model, m.model_from as _nature_model_from,
           _sara_weapon_or_violence(concat_ws(' ', e.call_type_code, e.call_type, e.call_type_initial),
                                    m.violent_in_progress_possible, e.priority_level) as _nature_flagged
    from (select en.*, _sara_call_nature(getvariable('sara_has_call_types'), en.call_type_code, ctn.call_nature,
                                         ctn.nature_status) as call_nature
          from enriched en
          left join call_types ctn on ctn._key = upper(en.call_type_code)) e
    left join _xw_natures m on m.code = e.call_nature
),
flagged as (
    select
        * exclude (_disp_countable, _nature_model, _nature_model_from, _nature_flagged),
        _sara_response_model(_nature_model, _nature_flagged) as response_model,
        _sara_response_model_reason(_nature_model, _nature_model_from, _nature_flagged) as response_model_reason,
        case when origin = 'officer' then true when origin = 'community' then false end as self_initiated,
        not is_void and duplicate_of is null and linked_to is null and _disp_countable as is_countable
    from natured
),
kinds as (
    -- queue_s starts at entered_at, else at received_at: that end's time, precision and DST code
    select
        *,
        coalesce(entered_at, received_at) as _queue_from,
        case when entered_at is not null then _sara_time_precision('entered_at') else time_precision end
            as _queue_from_p,
        case when entered_at is not null then _dst_entered_at else _dst_received_at end as _queue_from_c
    from flagged
),
intervals as (
    select
        *,
        _sara_interval_kind(received_at, entered_at, time_precision, _sara_time_precision('entered_at'),
                            _dst_received_at, _dst_entered_at) as _k_intake,
        _sara_interval_kind(_queue_from, dispatched_at, _queue_from_p, _sara_time_precision('dispatched_at'),
                            _queue_from_c, _dst_dispatched_at) as _k_queue,
        _sara_interval_kind(dispatched_at, onscene_at, _sara_time_precision('dispatched_at'),
                            _sara_time_precision('onscene_at'), _dst_dispatched_at, _dst_onscene_at) as _k_travel,
        _sara_interval_kind(received_at, onscene_at, time_precision, _sara_time_precision('onscene_at'),
                            _dst_received_at, _dst_onscene_at) as _k_response,
        _sara_interval_kind(onscene_at, cleared_at, _sara_time_precision('onscene_at'),
                            _sara_time_precision('cleared_at'), _dst_onscene_at, _dst_cleared_at) as _k_on_scene
    from kinds
),
seconds as (
    select
        *,
        _sara_interval_s(_k_intake, received_at, entered_at, _dst_received_at, _dst_entered_at) as _intake,
        _sara_interval_s(_k_queue, _queue_from, dispatched_at, _queue_from_c, _dst_dispatched_at) as _queue,
        _sara_interval_s(_k_travel, dispatched_at, onscene_at, _dst_dispatched_at, _dst_onscene_at) as _travel,
        _sara_interval_s(_k_response, received_at, onscene_at, _dst_received_at, _dst_onscene_at) as _response,
        _sara_interval_s(_k_on_scene, onscene_at, cleared_at, _dst_onscene_at, _dst_cleared_at) as _on_scene
    from intervals
),
final as (
    select
        * exclude (_queue_from, _queue_from_p, _queue_from_c,
                   _k_intake, _k_queue, _k_travel, _k_response, _k_on_scene,
                   _intake, _queue, _travel, _response, _on_scene)
          replace (case
                       when coalesce(_dst_received_at, 0) = 0 and coalesce(_dst_entered_at, 0) = 0
                            and coalesce(_dst_dispatched_at, 0) = 0 and coalesce(_dst_enroute_at, 0) = 0
                            and coalesce(_dst_onscene_at, 0) = 0 and coalesce(_dst_cleared_at, 0) = 0
                            and coalesce(_dst_updated_at, 0) = 0 then time_issue
                       else nullif(concat_ws(',', time_issue,
                           _sara_dst_issue(_dst_received_at, 'received_at'),
                           _sara_dst_issue(_dst_entered_at, 'entered_at'),
                           _sara_dst_issue(_dst_dispatched_at, 'dispatched_at'),
                           _sara_dst_issue(_dst_enroute_at, 'enroute_at'),
                           _sara_dst_issue(_dst_onscene_at, 'onscene_at'),
                           _sara_dst_issue(_dst_cleared_at, 'cleared_at'),
                           _sara_dst_issue(_dst_updated_at, 'updated_at')), '')
                   end as time_issue),
        case when _intake >= 0 then _intake end as intake_s,
        case when _queue >= 0 then _queue end as queue_s,
        case when _travel >= 0 then _travel end as travel_s,
        case when _response >= 0 then _response end as response_s,
        case when _on_scene >= 0 then _on_scene end as on_scene_s,
        case
            when _k_intake is null and _k_queue is null and _k_travel is null and _k_response is null
                 and _k_on_scene is null and coalesce(_intake, 0) >= 0 and coalesce(_queue, 0) >= 0
                 and coalesce(_travel, 0) >= 0 and coalesce(_response, 0) >= 0 and coalesce(_on_scene, 0) >= 0
            then null
            else nullif(concat_ws(',',
                'intake_s:' || _k_intake, case when _intake < 0 then 'intake_s<0' end,
                'queue_s:' || _k_queue, case when _queue < 0 then 'queue_s<0' end,
                'travel_s:' || _k_travel, case when _travel < 0 then 'travel_s<0' end,
                'response_s:' || _k_response, case when _response < 0 then 'response_s<0' end,
                'on_scene_s:' || _k_on_scene, case when _on_scene < 0 then 'on_scene_s<0' end), '')
        end as interval_issue
    from seconds
)
select * from final;
