-- severity: error
-- description: every located point lies inside its agency's area (meta.agency_areas, analysis CRS), and every unlocated row says why
with events as (
    select 'calls' as dataset, source, agency, call_id as id, is_located, location_issue, x, y from core.calls
    union all
    select 'incidents', source, agency, incident_id, is_located, location_issue, x, y from core.incidents
),
located as (
    select e.*, a.geom
    from events e
    left join meta.agency_areas a using (agency)
    where e.is_located
),
final as (
    select dataset, source, id, x, y, 'outside agency area' as problem from located
    where geom is null or x is null or y is null or not ST_Intersects(geom, ST_Point(x, y))
    union all
    select dataset, source, id, x, y, 'unlocated without location_issue' from events
    where not is_located and location_issue is null
)
select * from final
