-- _rl_scope (a temporary table, read by sql/marts/repeat_places.sql): the places (agency, dataset, location_key)
-- whose rows of marts.repeat_places a night must make again, because their days in a count window changed:
--   * a place with a row of marts.location_days on a date that entered or left one of the count windows since
--     the places were last made (variable moved: a list of {agency, local_date});
--   * a place marts.location_days rebuilt on any day since then (temporary table location_day_changed, left by
--     transforms/marts/location_days.py; a row it deleted for good is found there, not in the aggregate).
-- A place listed that needs nothing is made again unchanged: the scope may be wider than needed, never narrower.
create or replace temp table _rl_scope as
with moved as (
    select m.agency, m.local_date
    from (select unnest(cast(getvariable('moved') as struct(agency varchar, local_date date)[]), recursive := true))
      m
)
select distinct agency, dataset, location_key
from (
    select d.agency, d.dataset, d.location_key
    from marts.location_days d
    semi join moved m on m.agency = d.agency and m.local_date = d.local_date
    union all
    select agency, dataset, location_key
    from location_day_changed
);
