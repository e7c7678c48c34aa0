-- Set call_nature, response_model and response_model_reason again on the calls of one source already in core
-- (sara_nature_source), from the crosswalk and taxonomy of this load (_xw_call_types, _xw_natures, the macros
-- of natures.sql), where they differ: calls loaded before these columns existed, or before a crosswalk row
-- was reviewed. Returns the number of calls changed. Variables: sara_nature_source (varchar),
-- sara_nature_has_xw (boolean: the source has a call-type crosswalk).
with natured as (
    select c.call_id,
           _sara_call_nature(getvariable('sara_nature_has_xw'), c.call_type_code, ct.call_nature, ct.nature_status)
               as call_nature,
           c.call_type_code, c.call_type, c.call_type_initial, c.priority_level
    from core.calls c
    left join _xw_call_types ct on ct._key = upper(c.call_type_code)
    where c.source = getvariable('sara_nature_source')
),
modelled as (
    select n.call_id, n.call_nature,
           _sara_weapon_or_violence(concat_ws(' ', n.call_type_code, n.call_type, n.call_type_initial),
                                    m.violent_in_progress_possible, n.priority_level) as flagged,
           m.response_model, m.model_from
    from natured n
    left join _xw_natures m on m.code = n.call_nature
)
update core.calls c
set call_nature = m.call_nature,
    response_model = _sara_response_model(m.response_model, m.flagged),
    response_model_reason = _sara_response_model_reason(m.response_model, m.model_from, m.flagged)
from modelled m
where c.source = getvariable('sara_nature_source') and c.call_id = m.call_id
  and (c.call_nature is distinct from m.call_nature
       or c.response_model is distinct from _sara_response_model(m.response_model, m.flagged)
       or c.response_model_reason is distinct from
          _sara_response_model_reason(m.response_model, m.model_from, m.flagged));
