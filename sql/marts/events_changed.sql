-- events_changed (a temporary table): the records marts.events takes again to be up to date with core
-- (transforms/marts/events.py; sql/marts/events_update.sql then deletes their rows and inserts their rows of
-- core that still count). A record is taken again when
--   * its row of core comes from a load not folded in yet (marts.event_loads): a new event, or the new version
--     of one (updated, voided, cancelled, moved to another day or place);
--   * it has a version (core.call_versions, core.incident_versions) ended by a load not folded in yet: an
--     extract that replaces the days it covers drops the events it no longer lists (a late older version,
--     ended by its own load, never was the one counted);
--   * it stands at a point that became or stopped being one of marts.placeholder_points (its location_issue);
--   * its local date is before its agency's first date in marts.horizon (the caller checked that no first date
--     moved back): it is deleted, and not inserted again.
-- Every other row is a function of its own row of core, its agency's zone and the horizon's first date.
-- Variables: none. Every record whose row leaves marts.events or is inserted (marts.event_units reads it too:
-- transforms/marts/units.py).
create or replace temp table events_changed as
with folded as (
    select load_id from marts.event_loads
),
placeholders as (
    select agency, x, y from marts.placeholder_points
),
final as (
    select 'calls' as dataset, c.source, c.call_id as event_id
    from core.calls c
    where c.load_id not in (select load_id from folded)
    union
    select 'incidents', i.source, i.incident_id
    from core.incidents i
    where i.load_id not in (select load_id from folded)
    union
    select 'calls', v.source, v.call_id
    from core.call_versions v
    where v.ended_load_id not in (select load_id from folded) and v.ended_load_id <> v.load_id
    union
    select 'incidents', v.source, v.incident_id
    from core.incident_versions v
    where v.ended_load_id not in (select load_id from folded) and v.ended_load_id <> v.load_id
    union
    -- flagged as a placeholder and no longer one, or one now and not flagged
    select e.dataset, e.source, e.event_id
    from marts.events e
    left join placeholders p on p.agency = e.agency and p.x = e.x and p.y = e.y
    where coalesce(e.location_issue = 'placeholder', false) <> (p.agency is not null)
    union
    select e.dataset, e.source, e.event_id
    from marts.events e
    join (select agency, min(first_date) as first_date from marts.horizon group by agency) h using (agency)
    where e.local_date < h.first_date
)
select * from final;
