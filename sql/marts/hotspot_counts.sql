-- marts.hotspot_counts: one row per row of marts.hotspot_count_rows, with its unit's geometry (analysis CRS)
-- from marts.units, where each geometry is stored once.
create or replace view marts.hotspot_counts as
with counts as (
    select * from marts.hotspot_count_rows
),
units as (
    select * from marts.units
),
final as (
    select c.*, u.geom
    from counts c
    join units u using (agency, unit_type, unit_id)
)
select * from final;

comment on view marts.hotspot_counts is 'non-zero event counts per agency, unit type, unit, dataset, category group, origin (all/community/officer/unknown) and window ending at as_of; geometry (analysis CRS) from marts.units';
