-- marts.response_month_loads when the response-time marts are computed whole: every load named by the version
-- history (core.call_versions.load_id or ended_load_id).
delete from marts.response_month_loads;
insert into marts.response_month_loads
select load_id from core.call_versions
union
select ended_load_id from core.call_versions where ended_load_id is not null;
