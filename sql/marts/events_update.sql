-- marts.events kept up to date (transforms/marts/events.py): the rows of the records in events_changed
-- (sql/marts/events_changed.sql) are deleted, and their rows of core that still count inserted again.
-- Variables: sara_first_utc (sql/marts/inputs/event_rows.sql). Fragments: calls_scope, incidents_scope (the
-- semi joins on events_changed).
-- The rows deleted are kept first in the temporary table events_removed, so a mart that keeps counts of the
-- events can subtract them (transforms/marts/hotspots.py); the rows inserted are marts.events' rows of the
-- records of events_changed.
create or replace temp table events_removed as
select e.*
from marts.events e
semi join events_changed c on c.dataset = e.dataset and c.source = e.source and c.event_id = e.event_id;

delete from marts.events e
using events_changed c
where e.dataset = c.dataset and e.source = c.source and e.event_id = c.event_id;

insert into marts.events
/*{model inputs/event_rows}*/;
