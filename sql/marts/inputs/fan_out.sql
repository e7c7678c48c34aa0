-- The fan-out behind the category_group and origin columns of the marts: each row of the relation fan_in, which
-- the model that puts this one in place defines (any rows with dataset, category and origin: events, or counts
-- of them), once per category group of its dataset that lists its category or '*' (marts.category_groups), and
-- per origin dimension: 'all', and its own origin (community, officer or unknown; a row with no origin is in
-- 'all' only). marts.event_dims fans out events with it; marts.hotspot_count_rows and marts.compstat fan out
-- counts of events.
with category_groups as (
    select * from marts.category_groups
),
origin_dims as (
    select unnest(['all', 'community', 'officer', 'unknown']) as origin_dim
),
grouped as (
    select f.*, g.category_group
    from fan_in f
    join category_groups g
      on g.dataset = f.dataset and (g.category = '*' or g.category = f.category)
),
final as (
    select gr.*, o.origin_dim
    from grouped gr, origin_dims o
    where o.origin_dim = 'all' or o.origin_dim = gr.origin
)
select * from final;
