-- marts.events: one row per countable event (calls and incidents), the input of every mart (a table, built
-- once per night, so the marts do not each redo the union and the local dates).
-- Void and non-countable records are left out. Times stay UTC in event_at; local_date is in the agency zone.
-- Only events from their agency's first date in marts.horizon on (the earliest date any mart needs; the
-- caller sets sara_first_utc a day before the earliest of all, so old row groups are skipped), so the marts'
-- cost is bounded by their windows, not by history. An event at a point of marts.placeholder_points has
-- location_issue 'placeholder' (its point stays; the spatial units leave it out unless keep_placeholders).
create or replace table marts.events as
with calls as (
    select 'calls' as dataset, c.source, c.agency, c.call_id as event_id, c.event_at, c.time_precision,
           c.call_category as category, c.call_type as event_type, c.origin,
           c.x, c.y, c.lon, c.lat, c.is_located, c.beat, c.district, c.location_key, c.address_block, c.load_id,
           cast(null as timestamptz) as occurred_to, c.location_issue, c.geocode_method, c.geocode_precision_m
    from core.calls c
    where c.is_countable and not c.is_void and c.event_at >= getvariable('sara_first_utc')
),
incidents as (
    select 'incidents' as dataset, i.source, i.agency, i.incident_id, i.event_at, i.time_precision,
           i.offense_category, i.offense, i.origin,
           i.x, i.y, i.lon, i.lat, i.is_located, i.beat, i.district, i.location_key, i.address_block, i.load_id,
           i.occurred_to, i.location_issue, i.geocode_method, i.geocode_precision_m
    from core.incidents i
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

comment on table marts.events is 'one row per countable, non-void event (calls and incidents) with its local date: the input of every mart, from marts.horizon''s first date on';
comment on column marts.events.event_at is 'the event''s time, UTC: received_at for calls, occurred_from (else reported_at) for incidents (core.*.event_at)';
comment on column marts.events.time_precision is 'of event_at: exact, date_only (no time of day) or unknown_time';
comment on column marts.events.category is 'sara category: call_category (calls) or offense_category (incidents), from the crosswalks';
comment on column marts.events.event_type is 'call type as dispatched (calls) or most serious offense (incidents), decoded';
comment on column marts.events.origin is 'the event''s own origin: community (a call from the public), officer (self-initiated) or unknown';
comment on column marts.events.is_located is 'the event has a point inside the agency area (x/y, lon/lat not null)';
comment on column marts.events.location_issue is 'core''s location_issue, or placeholder when the point is one of marts.placeholder_points (a point that is not a location: left out of the spatial units unless [analysis] keep_placeholders)';
comment on column marts.events.geocode_method is 'how the point was found: feed, history, intersection, interpolated, block, street (core.*.geocode_method)';
comment on column marts.events.geocode_precision_m is 'an honest radius of the point, metres; null for a feed point without a declared precision (core.*.geocode_precision_m)';
comment on column marts.events.occurred_to is 'incidents: end of the occurrence window, UTC (null for calls and single-time incidents)';
comment on column marts.events.local_date is 'local date (agency zone, marts.agency_zones) of event_at';
