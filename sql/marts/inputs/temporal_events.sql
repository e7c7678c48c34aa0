-- Input of marts.temporal_profile: one row per event x category group (origin all) on local dates
-- start_date..end_date, with its start (event_at) and end (occurred_to, incidents' windows) as local wall-clock
-- times of the agency zone (TIMESTAMP without zone). Variables: start_date, end_date.
with events as (
    select *
    from marts.event_dims
    where origin_dim = 'all'
      and local_date between cast(getvariable('start_date') as date) and cast(getvariable('end_date') as date)
),
zones as (
    select * from marts.agency_zones
),
final as (
    select e.agency, e.dataset, e.category_group, e.time_precision, e.beat, e.district,
           cast(timezone(z.timezone, e.event_at) as timestamp) as start_local,
           cast(timezone(z.timezone, e.occurred_to) as timestamp) as end_local
    from events e
    join zones z on z.agency = e.agency
)
select * from final;
