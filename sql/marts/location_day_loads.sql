-- marts.location_day_loads: the loads marts.location_days has folded in, recorded after a build from scratch
-- (sql/marts/location_days.sql) and after every update (sql/marts/location_days_update.sql, which reads the
-- loads recorded before): the loads of core's rows and the loads that ended a version (a record an extract
-- dropped has no row). Variables: none.
create table if not exists marts.location_day_loads (load_id varchar);

delete from marts.location_day_loads;

insert into marts.location_day_loads
select load_id from core.calls
union
select load_id from core.incidents
union
select ended_load_id from core.call_versions where ended_load_id is not null
union
select ended_load_id from core.incident_versions where ended_load_id is not null;
