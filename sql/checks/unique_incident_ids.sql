-- severity: error
-- description: every incident id is unique within its source in core.incidents
select source, incident_id, count(*) as n
from core.incidents
group by source, incident_id
having count(*) > 1
