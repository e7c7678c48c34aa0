-- Input of marts.mart_status: one row per agency x dataset x category group x local date (agency zone) with an
-- event in marts.events (origin all): n events, n_located, n_exact (time_precision exact). The status step
-- counts any agency's window from it to say why a mart is empty.
with events as (
    select * from marts.event_dims where origin_dim = 'all'
),
final as (
    select agency, dataset, category_group, local_date,
           count(*) as n,
           count(*) filter (where is_located) as n_located,
           count(*) filter (where time_precision = 'exact') as n_exact
    from events
    group by all
)
select * from final
order by agency, dataset, category_group, local_date;
