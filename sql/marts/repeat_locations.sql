-- marts.repeat_locations: one row per row of marts.repeat_location_rows, with the place's most frequent located
-- point (analysis CRS) as geometry; null when none of its events is located.
create or replace view marts.repeat_locations as
with places as (
    select * from marts.repeat_location_rows
),
final as (
    select r.*, case when r.x is not null then ST_Point(r.x, r.y) end as geom
    from places r
)
select * from final;
comment on column marts.repeat_locations.geom is 'the place''s most frequent located point (x, y), analysis CRS; null when none of its events is located';
