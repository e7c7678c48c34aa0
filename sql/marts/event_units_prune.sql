-- marts.event_units, kept between nights, loses the rows of events that are no longer in marts.events as
-- located with the same load_id (reloaded, voided, unlocated or past the horizon), and the rows of events whose
-- point became, or stopped being, a placeholder (marts.placeholder_points grows with history); their new versions
-- are assigned again (sql/marts/inputs/unassigned_events.sql).
-- Variables: keep_placeholders (boolean: [analysis] keep_placeholders; a placeholder then stays in the units).
delete from marts.event_units
where (dataset, source, event_id, load_id, coalesce(left_out = 'placeholder', false)) not in (
    select (dataset, source, event_id, load_id,
            coalesce(location_issue = 'placeholder', false) and not getvariable('keep_placeholders'))
    from marts.events where is_located
);
