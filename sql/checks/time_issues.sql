-- severity: warn
-- description: event times in the future or before the configured floor, times that did not parse, or primary times holding a sentinel date
select 'calls' as dataset, source, time_issue, count(*) as n from core.calls where time_issue is not null group by all
union all
select 'incidents', source, time_issue, count(*) from core.incidents where time_issue is not null group by all
