-- The call natures of the standard taxonomy (config/taxonomy/call_natures.csv) for the agency being loaded, and
-- the rules that give a call its nature and response model. transforms/warehouse/natures.py fills _xw_natures:
-- one row per nature with the response model in force for the agency (the taxonomy's default, or the
-- agency's [agencies.<code>.response_models] override: model_from says which).
create or replace temp table _xw_natures (
    code varchar,
    vera_group varchar,
    response_model varchar,
    model_from varchar,
    violent_in_progress_possible boolean
);

-- A call's nature: from the call-type crosswalk row of its code, only when that row is marked reviewed.
-- Unknown: no call type delivered; Unmapped: no crosswalk, no row, or a row not reviewed (suggested).
create or replace temp macro _sara_call_nature(has_xw, code, nature, status) as (
    case
        when not has_xw then 'Unmapped'
        when code is null then 'Unknown'
        when lower(trim(status)) = 'reviewed' and nullif(trim(nature), '') is not null then trim(nature)
        else 'Unmapped'
    end
);

-- The weapon / violence-in-progress rule. The call's type text (code, decoded type, decoded initial type) names
-- a weapon or shots (WEAPON, GUN, FIREARM, KNIFE, SHOT(S), SHOOTING, STAB..., ARMED; "no weapon" and "without
-- weapon" do not count), or its nature can be violent in progress (violent_in_progress_possible) and the
-- call says in progress (IN PROGRESS, IP, I/P) or has priority level 1.
create or replace temp macro _sara_weapon_or_violence(type_text, vip, priority_level) as (
    regexp_matches(regexp_replace(upper(coalesce(type_text, '')), '(NO|WITHOUT|W/O)\s+WEAPONS?', ' ', 'g'),
                   '(^|[^A-Z])(WEAPONS?|GUNS?|FIREARMS?|KNIFE|KNIVES|SHOTS?|SHOOTING|STAB|STABBING|STABBED|ARMED)([^A-Z]|$)')
    or (coalesce(vip, false)
        and (regexp_matches(upper(coalesce(type_text, '')), '(^|[^A-Z])(IN PROGRESS|IP|I/P)([^A-Z]|$)')
             or priority_level = 1))
);

-- The response model a call gets: its nature's, except that a call flagged by the rule above is never
-- alternative (it becomes police_required); unknown when the nature is Unmapped or Unknown.
create or replace temp macro _sara_response_model(model, flagged) as (
    case
        when model is null then 'unknown'
        when model = 'alternative' and flagged then 'police_required'
        else model
    end
);

create or replace temp macro _sara_response_model_reason(model, model_from, flagged) as (
    case
        when model is null then 'no nature'
        when model = 'alternative' and flagged then 'weapon or violence in progress'
        else model_from
    end
);
