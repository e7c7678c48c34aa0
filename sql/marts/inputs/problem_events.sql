-- Input of the SARA problem marts: one row per event of one problem on the local dates of its pre or post
-- window: its agency and dataset, its origin (unless origin is 'all'), and its category or event type (matched
-- without case or surrounding spaces) unless every category counts.
-- Variables: agency, dataset, origin, pre_start, pre_end, post_start, post_end, all_categories (boolean),
-- categories, event_types (lower-case lists; null when not given).
with events as (
    select *
    from marts.events
    where agency = getvariable('agency') and dataset = getvariable('dataset')
      and (local_date between cast(getvariable('pre_start') as date) and cast(getvariable('pre_end') as date)
           or local_date between cast(getvariable('post_start') as date) and cast(getvariable('post_end') as date))
),
final as (
    select local_date, x, y, is_located, location_key
    from events
    where (getvariable('origin') = 'all' or origin = getvariable('origin'))
      and (getvariable('all_categories')
           or list_contains(cast(getvariable('categories') as varchar[]), lower(trim(category)))
           or list_contains(cast(getvariable('event_types') as varchar[]), lower(trim(event_type))))
)
select * from final;
