-- severity: error
-- description: every call id is unique within its source in core.calls
select source, call_id, count(*) as n
from core.calls
group by source, call_id
having count(*) > 1
