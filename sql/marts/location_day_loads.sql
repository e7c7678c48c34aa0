-- marts.location_day_loads: the loads marts.location_days has folded in, recorded after a build from scratch
-- (sql/marts/location_days.sql) and after every update (sql/marts/location_days_update.sql, which reads the
-- loads recorded before): the loads of core's rows and the loads that ended a version (a record an extract
-- dropped has no row). Only the loads that came or went are written, so a night that changed nothing leaves the
-- table as it was. Variables: none.
create table if not exists marts.location_day_loads (load_id varchar);

create or replace temp table location_day_loads_now as
/*{model inputs/core_loads}*/;

delete from marts.location_day_loads
where load_id not in (select load_id from location_day_loads_now);

insert into marts.location_day_loads
select load_id from location_day_loads_now
where load_id not in (select load_id from marts.location_day_loads);

drop table location_day_loads_now;
