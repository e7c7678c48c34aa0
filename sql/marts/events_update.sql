-- marts.events kept up to date (transforms/marts/events.py): the rows of the records in events_changed
-- (sql/marts/events_changed.sql) are deleted, and their rows of core that still count inserted again.
-- Variables: sara_first_utc (sql/marts/inputs/event_rows.sql). Fragments: calls_scope, incidents_scope (the
-- semi joins on events_changed).
delete from marts.events e
using events_changed c
where e.dataset = c.dataset and e.source = c.source and e.event_id = c.event_id;

insert into marts.events
/*{model inputs/event_rows}*/;
