-- Input of marts.location_labels: one row per agency x location_key of marts.events that is a rounded point
-- ('XY <x> <y>', analysis CRS metres: the key of a place without a premise or an address; see
-- sql/core/calls.sql), with its number of events.
with events as (
    select agency, location_key from marts.events where starts_with(location_key, 'XY ')
),
final as (
    select agency, location_key, count(*) as n_events
    from events
    group by all
)
select * from final
order by agency, location_key;
