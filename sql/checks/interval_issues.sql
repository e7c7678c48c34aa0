-- severity: warn
-- description: calls with an impossible (negative) interval that was set to null
select source, interval_issue, count(*) as n from core.calls where interval_issue is not null group by all
