-- marts.event_dims: one row per event of marts.events x category group it belongs to x origin dimension
-- (the fan-out of sql/marts/inputs/fan_out.sql): every event is in origin 'all' and in its own origin, and in
-- every category group of its dataset that lists its category or '*'. origin_dim is the dimension, origin the
-- event's own value. Times as in marts.events (event_at UTC, local_date in the agency zone).
create or replace view marts.event_dims as
with fan_in as (
    select * from marts.events
),
fanned as (
/*{model inputs/fan_out}*/
)
select * from fanned;

comment on view marts.event_dims is 'marts.events fanned out: one row per event, category group it belongs to and origin dimension (all, and the event''s own origin); the input of every mart''s dataset x category_group x origin';
comment on column marts.event_dims.category_group is 'a category group the event belongs to (marts.category_groups: its category, or ''*'')';
comment on column marts.event_dims.origin_dim is 'the origin dimension the row counts in: all, or the event''s own origin (community, officer, unknown)';
