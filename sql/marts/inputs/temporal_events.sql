-- Input of marts.temporal_profile: the events of temporary table temporal_local (inputs/temporal_local.sql)
-- that are not points counted by inputs/temporal_slots.sql: incident windows, events without a time of day
-- (unknown_time, date_only) and events without a start, one row each, for the aoristic spreading.
select agency, dataset, category_group, time_precision, beat, district, start_local, end_local
from temporal_local
where not is_point;
