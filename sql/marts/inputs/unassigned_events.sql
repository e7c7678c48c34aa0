-- Input of marts.event_units: one row per located event of one agency in marts.events that has no row in
-- marts.event_units yet (new, or reloaded since), with its coordinates (x, y analysis CRS; lon, lat WGS 84), its
-- location_issue (placeholder: left out of the units unless keep_placeholders) and geocode_precision_m (metres).
-- Variables: agency. Fragment: scope (empty: every event; or a semi join on the records marts.events took
-- again this night, events_changed, when the assignment followed it before: transforms/marts/units.py).
with events as (
    select * from marts.events e
    /*{scope}*/
    where e.agency = getvariable('agency') and e.is_located
),
assigned as (
    select dataset, source, event_id from marts.event_units
),
final as (
    select e.dataset, e.source, e.event_id, e.load_id, e.x, e.y, e.lat, e.lon, e.location_issue,
           e.geocode_precision_m
    from events e
    where not exists (
        select 1 from assigned u
        where u.dataset = e.dataset and u.source = e.source and u.event_id = e.event_id
    )
)
select * from final;
