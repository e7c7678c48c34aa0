-- marts.hotspots: one row per row of marts.hotspot_stats (unit x dataset x category group x origin x window),
-- with its unit's area and geometry (analysis CRS) from marts.units.
create or replace view marts.hotspots as
with stats as (
    select * from marts.hotspot_stats
),
units as (
    select * from marts.units
),
final as (
    select h.*, u.area_m2, u.geom
    from stats h
    join units u using (agency, unit_type, unit_id)
)
select * from final;

comment on view marts.hotspots is 'Getis-Ord Gi* (binary weights, self included; = esda G_Local star) per unit and dimension combination: n = the unit''s own events (Gi* looks at the neighbourhood, so a unit with n = 0 can be hot through its neighbours alone), z, two-sided p, Benjamini-Hochberg p_fdr, gi_bin (-3..3 at 99/95/90 % after FDR, as ArcGIS Gi_Bin), n_neighbors (self counted); with [analysis] gi_permutations > 0 also p_sim (conditional permutation pseudo p, one-sided folded as esda''s p_sim) and gi_bin_sim (bins on min(1, 2 p_sim) after FDR), else NULL; geometry in the analysis CRS';
