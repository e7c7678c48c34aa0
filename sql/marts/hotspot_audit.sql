-- marts.hotspot_audit: who drives the map. One row per agency x dataset x scope x window:
-- - scope 'hot_cells': per analysis window (marts.windows), the grid cells that are 99 % hot spots (Gi* gi_bin 3,
--   marts.hotspot_stats) on every origin (origin 'all', category group 'all'), and the located events in them in
--   the window (the events hot-spot counts are made of: marts.event_dims, category group 'all', origin 'all',
--   through marts.event_units). A combination without hot cells has a row with n_units 0.
-- - scope 'top_places': the top_places places of marts.repeat_location_rows (category group 'all', origin 'all',
--   by rank, ties broken by location_key) and their events in the repeat window (repeat_window_days local days
--   ending at the agency's as_of, marts.periods); window_days is the repeat window.
-- For each: events by their own origin (officer-initiated, community-generated, unknown) and the officer share;
-- for calls, the calls whose nature (core.calls.call_nature, joined by source and call_id) is one of the
-- enforcement-sensitive natures ([analysis] enforcement_natures) and their share; incidents have no nature, so
-- these are null. For hot cells, how many are not 99 % hot when Gi* runs on community-generated events alone
-- (the same cell's gi_bin in the origin 'community' combination; no community event at all: not hot).
-- Variables: sensitive_natures (varchar[]), top_places (bigint), repeat_window_days (bigint).
create or replace table marts.hotspot_audit as
with stats as (
    select * from marts.hotspot_stats
    where unit_type = 'grid' and category_group = 'all'
),
windows as (
    select * from marts.windows
),
periods as (
    select agency, as_of from marts.periods where as_of is not null
),
event_dims as (
    select * from marts.event_dims where category_group = 'all' and origin_dim = 'all'
),
call_natures as (
    -- dataset as a column, so that the join below is on equalities only (a hash join; "s.dataset = 'calls'"
    -- in its ON clause made it a nested loop over every call)
    select 'calls' as dataset, source, call_id, call_nature from core.calls
),
sensitive as (
    select unnest(cast(getvariable('sensitive_natures') as varchar[])) as call_nature
),
split as (
    -- the datasets of an agency that record the community/officer split (incidents usually do not)
    select distinct agency, dataset from stats where origin in ('community', 'officer')
),
combos as (
    -- every agency x dataset x window Gi* was run on (origin all)
    select distinct agency, dataset, window_days from stats where origin = 'all'
),
hot as (
    select agency, dataset, window_days, unit_id from stats where origin = 'all' and gi_bin = 3
),
community as (
    select agency, dataset, window_days, unit_id, gi_bin from stats where origin = 'community'
),
hot_flags as (
    select h.*, coalesce(c.gi_bin, 0) = 3 as hot_on_community
    from hot h
    left join community c using (agency, dataset, window_days, unit_id)
),
hot_events as (
    select h.agency, h.dataset, h.window_days, e.source, e.event_id, e.origin
    from hot_flags h
    join marts.event_units eu
      on eu.agency = h.agency and eu.dataset = h.dataset and eu.unit_type = 'grid' and eu.unit_id = h.unit_id
    join windows w on w.agency = h.agency and w.window_days = h.window_days
    join event_dims e
      on e.dataset = eu.dataset and e.source = eu.source and e.event_id = eu.event_id and e.is_located
     and e.local_date between w.start_date and w.end_date
),
top as (
    select agency, dataset, location_key
    from marts.repeat_location_rows
    where category_group = 'all' and origin = 'all'
    qualify row_number() over (partition by agency, dataset order by rank, location_key)
            <= cast(getvariable('top_places') as bigint)
),
place_events as (
    select t.agency, t.dataset, cast(getvariable('repeat_window_days') as bigint) as window_days,
           e.source, e.event_id, e.origin
    from top t
    join periods p using (agency)
    join event_dims e on e.agency = t.agency and e.dataset = t.dataset and e.location_key = t.location_key
     and e.local_date between p.as_of - cast(getvariable('repeat_window_days') as integer) + 1 and p.as_of
),
scoped_events as (
    select 'hot_cells' as scope, * from hot_events
    union all
    select 'top_places' as scope, * from place_events
),
natured as (
    select s.*, n.call_nature, n.call_nature in (select call_nature from sensitive) as is_sensitive
    from scoped_events s
    left join call_natures n on n.dataset = s.dataset and n.source = s.source and n.call_id = s.event_id
),
event_counts as (
    select scope, agency, dataset, window_days,
           count(*) as n_events,
           count(*) filter (where origin = 'officer') as n_officer,
           count(*) filter (where origin = 'community') as n_community,
           count(*) filter (where origin is distinct from 'officer' and origin is distinct from 'community')
               as n_unknown_origin,
           count(*) filter (where is_sensitive) as n_sensitive,
           count(*) filter (where call_nature is null or call_nature in ('Unmapped', 'Unknown')) as n_no_nature
    from natured
    group by all
),
hot_units as (
    select agency, dataset, window_days, count(*) as n_units,
           count(*) filter (where not hot_on_community) as n_not_hot_on_community
    from hot_flags
    group by all
),
scopes as (
    select 'hot_cells' as scope, c.agency, c.dataset, c.window_days, w.start_date, w.end_date,
           coalesce(h.n_units, 0) as n_units, coalesce(h.n_not_hot_on_community, 0) as n_not_hot_on_community
    from combos c
    join windows w using (agency, window_days)
    left join hot_units h using (agency, dataset, window_days)
    union all
    select 'top_places', t.agency, t.dataset, cast(getvariable('repeat_window_days') as bigint),
           p.as_of - cast(getvariable('repeat_window_days') as integer) + 1, p.as_of,
           count(*), null
    from top t
    join periods p using (agency)
    group by all
),
final as (
    select s.agency, s.dataset, s.scope, s.window_days, s.start_date, s.end_date, s.n_units,
           coalesce(e.n_events, 0) as n_events, coalesce(e.n_officer, 0) as n_officer,
           coalesce(e.n_community, 0) as n_community, coalesce(e.n_unknown_origin, 0) as n_unknown_origin,
           -- a share over nothing, or over events none of which has a known origin (incidents), is unknown
           case when coalesce(e.n_officer, 0) + coalesce(e.n_community, 0) > 0
                then e.n_officer / e.n_events end as officer_share,
           case when s.dataset = 'calls' then coalesce(e.n_sensitive, 0) end as n_sensitive,
           case when s.dataset = 'calls' and e.n_events > 0 then e.n_sensitive / e.n_events end as sensitive_share,
           case when s.dataset = 'calls' then coalesce(e.n_no_nature, 0) end as n_no_nature,
           -- without the split, "hot on community calls alone" cannot be told
           case when sp.agency is not null then s.n_not_hot_on_community end as n_not_hot_on_community,
           cast(getvariable('sensitive_natures') as varchar[]) as sensitive_natures
    from scopes s
    left join event_counts e using (scope, agency, dataset, window_days)
    left join split sp on sp.agency = s.agency and sp.dataset = s.dataset
)
select * from final
order by agency, dataset, scope, window_days;

comment on table marts.hotspot_audit is 'who drives the map: per agency x dataset x scope x window, for the 99 % hot grid cells (Gi* gi_bin 3 on every origin, category group all; one row per analysis window) and for the top repeat places (one row, the repeat window): the share of their events that are officer-initiated, the share of calls in enforcement-sensitive natures ([analysis] enforcement_natures), and how many hot cells are not hot on community-generated events alone';
comment on column marts.hotspot_audit.scope is 'hot_cells (the 99 % hot grid cells of the window) or top_places (the [analysis] audit_top_places first places of marts.repeat_locations, category group all, origin all)';
comment on column marts.hotspot_audit.window_days is 'hot_cells: the analysis window, days (marts.windows); top_places: the repeat window ([analysis] repeat_window_days)';
comment on column marts.hotspot_audit.start_date is 'first local date of the window (inclusive)';
comment on column marts.hotspot_audit.end_date is 'last local date of the window (inclusive): the agency''s as_of';
comment on column marts.hotspot_audit.n_units is 'hot_cells: grid cells with gi_bin 3 (origin all, category group all); top_places: places audited';
comment on column marts.hotspot_audit.n_events is 'countable, non-void located events in those cells (top_places: at those places) in the window';
comment on column marts.hotspot_audit.n_officer is 'of them, officer-initiated (origin officer)';
comment on column marts.hotspot_audit.n_community is 'of them, community-generated (origin community)';
comment on column marts.hotspot_audit.n_unknown_origin is 'of them, with no known origin (unknown or none)';
comment on column marts.hotspot_audit.officer_share is 'n_officer / n_events (0..1); null when no event has a known origin (a dataset without the split, such as incidents) or there are no events';
comment on column marts.hotspot_audit.n_sensitive is 'calls only (incidents have no nature: null): calls whose core.calls.call_nature is one of sensitive_natures';
comment on column marts.hotspot_audit.sensitive_share is 'calls only: n_sensitive / n_events (0..1; a call without a nature counts as not sensitive, see n_no_nature); null for incidents or without events';
comment on column marts.hotspot_audit.n_no_nature is 'calls only: calls with no usable nature (Unmapped, Unknown or not classified), counted as not sensitive';
comment on column marts.hotspot_audit.n_not_hot_on_community is 'hot_cells: of the n_units hot cells, how many are not 99 % hot (gi_bin < 3) when Gi* runs on community-generated events alone (origin community; no community event in the combination: not hot); null for top_places and for a dataset that records no community/officer origin';
comment on column marts.hotspot_audit.sensitive_natures is 'the enforcement-sensitive call natures counted ([analysis] enforcement_natures; config/taxonomy/call_natures.csv codes)';
