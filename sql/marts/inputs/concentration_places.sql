-- Input of marts.concentration over places (addresses): one row per agency x dataset x category group x
-- location_key of marts.repeat_location_rows (origin all), with n = its events in the repeat window.
with places as (
    select * from marts.repeat_location_rows where origin = 'all'
),
final as (
    select agency, dataset, category_group, n_repeat_window as n, is_repeat
    from places
)
select * from final;
