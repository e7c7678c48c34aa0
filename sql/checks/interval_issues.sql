-- severity: warn
-- description: calls with an impossible (negative) interval that was set to null; intervals left out for a date-only or unknown time of day, or read by the DST interval rule (dst_change), are named in interval_issue but not counted
-- grain: one row per source x interval_issue with at least one negative interval (<interval><0)
with calls as (
    select source, interval_issue from core.calls where interval_issue is not null
),
negative as (
    select * from calls where len(list_filter(string_split(interval_issue, ','), x -> ends_with(x, '<0'))) > 0
),
final as (
    select source, interval_issue, count(*) as n
    from negative
    group by all
)
select * from final
