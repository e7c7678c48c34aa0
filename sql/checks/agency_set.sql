-- severity: error
-- description: agency is set on every row of core
select 'calls' as dataset, source, call_id as id from core.calls where agency is null or agency = ''
union all
select 'incidents', source, incident_id from core.incidents where agency is null or agency = ''
