-- The rows of marts.events (sql/marts/events.sql builds it from them, sql/marts/events_update.sql brings it up
-- to date with them): one row per countable event, calls and incidents. Void and non-countable records are left
-- out. Times stay UTC in event_at; local_date is in the agency zone. Only events from their agency's first date
-- in marts.horizon on. An event at a point of marts.placeholder_points has location_issue 'placeholder' (its
-- point stays; the spatial units leave it out unless keep_placeholders).
-- Variables: sara_first_utc (a day before the earliest first date of all, so old row groups are skipped).
-- Fragments: calls_scope, incidents_scope (empty for every record, or a semi join that keeps only some).
with calls as (
    select 'calls' as dataset, c.source, c.agency, c.call_id as event_id, c.event_at, c.time_precision,
           c.call_category as category, c.call_type as event_type, c.origin,
           c.x, c.y, c.lon, c.lat, c.is_located, c.beat, c.district, c.location_key, c.address_block, c.load_id,
           cast(null as timestamptz) as occurred_to, c.location_issue, c.geocode_method, c.geocode_precision_m
    from core.calls c
    /*{calls_scope}*/
    where c.is_countable and not c.is_void and c.event_at >= getvariable('sara_first_utc')
),
incidents as (
    select 'incidents' as dataset, i.source, i.agency, i.incident_id, i.event_at, i.time_precision,
           i.offense_category, i.offense, i.origin,
           i.x, i.y, i.lon, i.lat, i.is_located, i.beat, i.district, i.location_key, i.address_block, i.load_id,
           i.occurred_to, i.location_issue, i.geocode_method, i.geocode_precision_m
    from core.incidents i
    /*{incidents_scope}*/
    where not i.is_void and i.event_at >= getvariable('sara_first_utc')
),
unioned as (
    select * from calls
    union all
    select * from incidents
),
placeholders as (
    select agency, x, y from marts.placeholder_points
),
final as (
    select u.* replace (case when p.agency is not null then 'placeholder' else u.location_issue end
                        as location_issue),
           cast(sara_local(u.event_at, o.utc_offset_us, z.timezone) as date) as local_date
    from unioned u
    join marts.agency_zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = u.agency and o.utc_day = sara_utc_day(u.event_at)
    left join placeholders p on p.agency = u.agency and p.x = u.x and p.y = u.y
    join (select agency, min(first_date) as first_date from marts.horizon group by agency) h using (agency)
    where cast(sara_local(u.event_at, o.utc_offset_us, z.timezone) as date) >= h.first_date
)
select * from final;
