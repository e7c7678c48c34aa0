-- severity: error
-- description: every located point lies inside its agency's area (meta.agency_area_tiles, analysis CRS), and every unlocated row says why
with events as (
    select 'calls' as dataset, source, agency, call_id as id, is_located, location_issue, x, y from core.calls
    union all
    select 'incidents', source, agency, incident_id, is_located, location_issue, x, y from core.incidents
),
grids as (
    select distinct agency, x0, y0, size_m from meta.agency_area_tiles
),
located as (
    select e.*, cast(floor((e.x - g.x0) / g.size_m) as integer) as ix,
           cast(floor((e.y - g.y0) / g.size_m) as integer) as iy
    from events e
    left join grids g using (agency)
    where e.is_located
),
checked as (
    select l.*, t.is_full, t.geom
    from located l
    left join meta.agency_area_tiles t using (agency, ix, iy)
),
final as (
    select dataset, source, id, x, y, 'outside agency area' as problem from checked
    where x is null or y is null or geom is null or (not is_full and not ST_Intersects(geom, ST_Point(x, y)))
    union all
    select dataset, source, id, x, y, 'unlocated without location_issue' from events
    where not is_located and location_issue is null
)
select * from final
