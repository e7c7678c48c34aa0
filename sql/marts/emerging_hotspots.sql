-- marts.emerging_hotspots: one row per row of marts.emerging_hotspot_rows (grid cell x dataset x category group
-- x origin), with the cell's geometry (analysis CRS) from marts.units.
create or replace view marts.emerging_hotspots as
with cells as (
    select * from marts.emerging_hotspot_rows
),
grid as (
    select * from marts.units where unit_type = 'grid'
),
final as (
    select t.*, u.geom
    from cells t
    join grid u on u.agency = t.agency and u.unit_id = t.unit_id
)
select * from final;

comment on view marts.emerging_hotspots is 'Emerging Hot Spot Analysis (Esri definitions) per grid cell: space-time Gi* over a cube of ehsa_steps steps ending at as_of (one global mean and variance, neighbours in the same and the k previous steps, FDR over the cube), Mann-Kendall trend on each cell''s z series, one of the 17 patterns; n = the cell''s own events over the whole cube and n_last_step in the last step (a cell can be hot through its neighbours alone, with n = 0); status says when there are too few steps (at least 10) to classify';
