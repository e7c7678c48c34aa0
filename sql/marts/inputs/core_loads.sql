-- The loads core's rows are a function of: the load of every row of core.calls and core.incidents, and every
-- load that ended a version (a record an extract dropped has no row left; its version history says which load
-- dropped it). What a table kept between nights records as folded in (sql/marts/location_day_loads.sql,
-- sql/marts/event_loads.sql). Variables: none.
select load_id from core.calls
union
select load_id from core.incidents
union
select ended_load_id from core.call_versions where ended_load_id is not null
union
select ended_load_id from core.incident_versions where ended_load_id is not null;
