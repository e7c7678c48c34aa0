-- Configured category groups that match no event: one row per agency x dataset x category group of
-- marts.category_groups (a '*' group matches every event) none of whose categories occurs among that agency's
-- events of that dataset in marts.events. Only agency x dataset pairs with at least one event are listed (an
-- agency without an incident feed has no incident groups to miss); a dropped group (an empty list in the
-- config) has no rows in marts.category_groups and is never listed. Categories compare exactly, as the marts
-- join them (marts.event_dims).
with events as (
    select agency, dataset, category from marts.events
),
category_groups as (
    select dataset, category_group, category from marts.category_groups
),
present as (
    select agency, dataset, category, count(*) as n_events
    from events
    group by all
),
agency_datasets as (
    select distinct agency, dataset from present
),
group_events as (
    select d.agency, g.dataset, g.category_group,
           list(distinct g.category order by g.category) as categories,
           coalesce(sum(p.n_events), 0) as n_events
    from agency_datasets d
    join category_groups g on g.dataset = d.dataset
    left join present p
      on p.agency = d.agency and p.dataset = g.dataset and (g.category = '*' or p.category = g.category)
    group by all
),
final as (
    select agency, dataset, category_group, categories
    from group_events
    where n_events = 0
)
select * from final
order by agency, dataset, category_group;
