-- marts.kde: one row per row of marts.kde_rows (grid cell x dataset x category group x origin x window), with
-- the cell's geometry (analysis CRS) from marts.units.
create or replace view marts.kde as
with densities as (
    select * from marts.kde_rows
),
grid as (
    select * from marts.units where unit_type = 'grid'
),
final as (
    select t.*, u.geom
    from densities t
    join grid u on u.agency = t.agency and u.unit_id = t.unit_id
)
select * from final;

comment on view marts.kde is 'quartic (biweight) kernel density, events per km², at grid cell centres, computed in the analysis CRS (metres) with bandwidth_m, per dataset, category group, origin and window ending at as_of';
