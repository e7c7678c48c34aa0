-- Set call_nature, response_model and response_model_reason again on the calls of one source already in core
-- (sara_nature_source), from the crosswalk and taxonomy of this load (_xw_call_types, _xw_natures, the macros
-- of natures.sql), where they differ: calls loaded before these columns existed, or before a crosswalk row
-- was reviewed. The rules run once per distinct call type text and priority level, not once per call.
-- Returns the number of calls changed. Variables: sara_nature_source (varchar), sara_nature_has_xw (boolean:
-- the source has a call-type crosswalk).
with combos as (
    select distinct call_type_code, call_type, call_type_initial, priority_level
    from core.calls
    where source = getvariable('sara_nature_source')
),
natured as (
    select k.*,
           _sara_call_nature(getvariable('sara_nature_has_xw'), k.call_type_code, ct.call_nature, ct.nature_status)
               as call_nature
    from combos k
    left join _xw_call_types ct on ct._key = upper(k.call_type_code)
),
flagged as (
    select n.*, m.response_model as _model, m.model_from as _model_from,
           _sara_weapon_or_violence(concat_ws(' ', n.call_type_code, n.call_type, n.call_type_initial),
                                    m.violent_in_progress_possible, n.priority_level) as _flagged
    from natured n
    left join _xw_natures m on m.code = n.call_nature
),
modelled as (
    select call_type_code, call_type, call_type_initial, priority_level, call_nature,
           _sara_response_model(_model, _flagged) as response_model,
           _sara_response_model_reason(_model, _model_from, _flagged) as response_model_reason
    from flagged
)
update core.calls c
set call_nature = m.call_nature,
    response_model = m.response_model,
    response_model_reason = m.response_model_reason
from modelled m
where c.source = getvariable('sara_nature_source')
  and c.call_type_code is not distinct from m.call_type_code
  and c.call_type is not distinct from m.call_type
  and c.call_type_initial is not distinct from m.call_type_initial
  and c.priority_level is not distinct from m.priority_level
  and (c.call_nature is distinct from m.call_nature
       or c.response_model is distinct from m.response_model
       or c.response_model_reason is distinct from m.response_model_reason);
