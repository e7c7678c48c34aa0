-- _final (session view): one row per incident of the load being normalized (_rec, already one row per
-- incident, classified by its most serious offence), enriched into the shape of core.incidents: origin,
-- void, the DST flags of the times, and the place (cleaned and block address, location key, coordinates, beat
-- and district: from the feed, else from the polygon layer).
-- Times are TIMESTAMPTZ in UTC, as staged. Every column of _rec is passed through (raw_* among them); the
-- merge inserts the columns core.incidents has. time_issue gets dst_gap_<time> / dst_overlap_<time> for each
-- time read from local text that falls in a DST gap or overlap (its _dst_<time> code, see sql/core/calls.sql).
-- Variables: sara_source, sara_agency, sara_load_id (varchar); sara_feed_precision_m (double or null: the
-- precision a feed point is given, geocode.feed_precision_m); sara_location_round_m (double: the grid an
-- XY location key is rounded to).
create or replace temp macro _sara_dst_issue(code, name) as (
    case when code > 0 then 'dst_gap_' || name when code < 0 then 'dst_overlap_' || name end
);
create or replace temp view _final as
with incidents as (
    select * from _rec
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
        f.* replace (a.address_clean as address,
                     -- beat and district: the feed's own value (renamed by its crosswalk, else as
                     -- delivered), else the configured polygon layer's tag; *_source says which one,
                     -- *_polygon keeps the tag for the disagreement check
                     coalesce(xb.beat, f.beat, l.beat) as beat,
                     coalesce(xd.district, f.district, l.district) as district),
        f.record_id as incident_id,
        getvariable('sara_source') as source,
        getvariable('sara_agency') as agency,
        coalesce(f._origin_src, 'unknown') as origin,
        f._void_src as is_void,
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
    from incidents f
    left join addresses a on a.address = f.address
    left join locations l on l._x_raw is not distinct from f._x_raw and l._y_raw is not distinct from f._y_raw
    left join beats xb on xb._key = upper(f.beat)
    left join districts xd on xd._key = upper(f.district)
),
final as (
    select
        * replace (nullif(concat_ws(',', time_issue,
                       _sara_dst_issue(_dst_occurred_from, 'occurred_from'),
                       _sara_dst_issue(_dst_occurred_to, 'occurred_to'),
                       _sara_dst_issue(_dst_reported_at, 'reported_at'),
                       _sara_dst_issue(_dst_updated_at, 'updated_at')), '') as time_issue)
    from enriched
)
select * from final;
