-- The changes to marts.event_days (transforms/marts/event_days.py) after marts.events was updated
-- (sql/marts/events_update.sql): + its rows of the records it took again (events_changed), - the rows it deleted
-- for them (events_removed), per key of marts.event_days; written to the temporary table _ed_delta (signed n),
-- which transforms/marts/counts.py adds to the counts.
create or replace temp table _ed_delta as
with added as (
    select e.agency, e.dataset, e.category, e.origin, e.district, e.beat, e.local_date, count(*) as n
    from marts.events e
    semi join events_changed c on c.dataset = e.dataset and c.source = e.source and c.event_id = e.event_id
    group by all
),
removed as (
    select agency, dataset, category, origin, district, beat, local_date, -count(*) as n
    from events_removed
    group by all
),
final as (
    select agency, dataset, category, origin, district, beat, local_date, cast(sum(n) as bigint) as n
    from (select * from added union all select * from removed)
    group by all
    having sum(n) <> 0
)
select * from final;
