-- severity: warn
-- description: sources where more than 5 % of events cannot be mapped (is_located = false)
with events as (
    select source, is_located from core.calls
    union all
    select source, is_located from core.incidents
),
final as (
    select source, count(*) as n, avg(case when is_located then 0 else 1 end) as unlocated_share
    from events group by source
)
select * from final where unlocated_share > 0.05
