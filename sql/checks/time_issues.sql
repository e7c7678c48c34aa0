-- severity: warn
-- description: event times in the future or before the configured floor, or times that did not parse; sentinel dates (sentinel_<field>) and DST gap/overlap times (dst_gap_<field>, dst_overlap_<field>) are read by documented rules and not counted
-- grain: one row per dataset x source x time_issue with at least one issue that is not a sentinel or DST flag
with issues as (
    select 'calls' as dataset, source, time_issue from core.calls where time_issue is not null
    union all
    select 'incidents' as dataset, source, time_issue from core.incidents where time_issue is not null
),
counted as (
    select *
    from issues
    where len(list_filter(string_split(time_issue, ','),
                          x -> not (starts_with(x, 'sentinel_') or starts_with(x, 'dst_')))) > 0
),
final as (
    select dataset, source, time_issue, count(*) as n
    from counted
    group by all
)
select * from final
