-- The months a night touched, deleted from the kept response-time marts: a month is touched when a version of
-- one of its calls (core.call_versions, local month of the version's event_at in the agency zone) was brought
-- or ended by a load not folded in yet (marts.response_month_loads): a new call, the new and the old version of
-- a changed, voided or moved call (its old month and its new one), a call a replaced day dropped, a late older
-- version. Those loads are then recorded as folded in. Variables: none. Leaves the temporary table
-- response_month_touched (agency, month).
create or replace temp table response_month_touched as
with folded as (
    select load_id from marts.response_month_loads
),
changed as (
    select v.agency, v.event_at
    from core.call_versions v
    where v.load_id not in (select load_id from folded)
       or v.ended_load_id not in (select load_id from folded)
)
select distinct c.agency, cast(date_trunc('month', timezone(z.timezone, c.event_at)) as date) as month
from changed c
join marts.agency_zones z using (agency);

delete from marts.response_times
where (agency, month) in (select (agency, month) from response_month_touched);
delete from marts.response_times_agency
where (agency, month) in (select (agency, month) from response_month_touched);
delete from marts.response_times_excluded
where (agency, month) in (select (agency, month) from response_month_touched);
delete from marts.response_months
where (agency, month) in (select (agency, month) from response_month_touched);

insert into marts.response_month_loads
select load_id from core.call_versions where load_id not in (select load_id from marts.response_month_loads)
union
select ended_load_id from core.call_versions
where ended_load_id not in (select load_id from marts.response_month_loads);
