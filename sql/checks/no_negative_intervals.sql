-- severity: error
-- description: no response interval is negative (impossible intervals are nulled and named in interval_issue)
select source, call_id, intake_s, queue_s, travel_s, response_s, on_scene_s
from core.calls
where intake_s < 0 or queue_s < 0 or travel_s < 0 or response_s < 0 or on_scene_s < 0
