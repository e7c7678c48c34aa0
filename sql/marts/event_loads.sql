-- marts.event_loads: the loads marts.events has folded in (sql/marts/inputs/core_loads.sql), recorded after a
-- build from scratch (sql/marts/events.sql) and after every update (sql/marts/events_update.sql, which reads the
-- loads recorded before). Variables: none.
create or replace table marts.event_loads as
/*{model inputs/core_loads}*/;

comment on table marts.event_loads is 'the loads marts.events has folded in: a row of core from any other load, or a version another load ended, is a record the next night takes again';
comment on column marts.event_loads.load_id is 'a load (meta.loads) with rows in core.calls or core.incidents, or that ended a version of core.call_versions or core.incident_versions';
