-- marts.event_units, kept between nights, loses the rows of events that are no longer in marts.events as
-- located with the same load_id (reloaded, voided, unlocated or past the horizon); their new versions are
-- assigned again (sql/marts/inputs/unassigned_events.sql).
delete from marts.event_units
where (dataset, source, event_id, load_id) not in (
    select (dataset, source, event_id, load_id) from marts.events where is_located
);
