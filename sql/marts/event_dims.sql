-- marts.event_dims: one row per event of marts.events x category group it belongs to x origin dimension.
-- Every event is in origin 'all' and in its own origin (community, officer or unknown; an event with no origin
-- is in 'all' only), and in every category group of its dataset that lists its category or '*'. This is the
-- fan-out behind the category_group and origin columns of the marts; origin_dim is the dimension, origin the
-- event's own value. Times as in marts.events (event_at UTC, local_date in the agency zone).
create or replace view marts.event_dims as
with events as (
    select * from marts.events
),
category_groups as (
    select * from marts.category_groups
),
origin_dims as (
    select unnest(['all', 'community', 'officer', 'unknown']) as origin_dim
),
grouped as (
    select e.*, g.category_group
    from events e
    join category_groups g
      on g.dataset = e.dataset and (g.category = '*' or g.category = e.category)
),
final as (
    select gr.*, o.origin_dim
    from grouped gr, origin_dims o
    where o.origin_dim = 'all' or o.origin_dim = gr.origin
)
select * from final;

comment on view marts.event_dims is 'marts.events fanned out: one row per event, category group it belongs to and origin dimension (all, and the event''s own origin); the input of every mart''s dataset x category_group x origin';
comment on column marts.event_dims.category_group is 'a category group the event belongs to (marts.category_groups: its category, or ''*'')';
comment on column marts.event_dims.origin_dim is 'the origin dimension the row counts in: all, or the event''s own origin (community, officer, unknown)';
