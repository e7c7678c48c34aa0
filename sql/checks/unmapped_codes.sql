-- severity: warn
-- description: codes missing from the crosswalks (category Unmapped); add them to config/crosswalks/
select 'calls' as dataset, source, call_type_code as code, count(*) as n
from core.calls where call_category = 'Unmapped' group by all
union all
select 'incidents', source, offense_code, count(*) from core.incidents where offense_category = 'Unmapped' group by all
