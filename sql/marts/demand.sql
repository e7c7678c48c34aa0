-- marts.demand: what the calls ask for and who could answer them. One row per agency x analysis window
-- (marts.windows, ending at the agency's as_of) x call nature x response model x origin x local hour of week x
-- district, with the number of calls. Calls of core.calls that are countable and not void (the calls every
-- other mart counts: duplicates, cancellations and voided records are left out), on the local dates of their
-- event_at (received_at) inside the window. hour_of_week is null for a call without an exact time of day
-- (date_only, unknown_time): it is counted, in its own rows. A call loaded before natures existed, and not
-- refreshed since, has nature '(not classified)' and response model 'unknown'.
-- marts.demand_alternative_by_hour (a view on it): per agency x window x local hour of day, the community-
-- generated calls and how many of them an alternative responder could take.
-- Variables: taxonomy_version (varchar: config/taxonomy/call_natures.csv's version).
create or replace table marts.demand as
with windows as (
    select * from marts.windows
),
zones as (
    select * from marts.agency_zones
),
first_utc as (
    -- the earliest window start of each agency, a day early (UTC vs local), so old row groups are skipped
    select agency, cast(min(start_date) - interval 1 day as timestamptz) as first_utc from windows group by agency
),
calls as (
    select c.agency, c.event_at, c.time_precision, c.origin, c.district,
           coalesce(c.call_nature, '(not classified)') as call_nature,
           coalesce(c.response_model, 'unknown') as response_model,
           sara_local(c.event_at, o.utc_offset_us, z.timezone) as event_local
    from core.calls c
    join zones z using (agency)
    left join marts.agency_utc_offsets o on o.agency = c.agency and o.utc_day = sara_utc_day(c.event_at)
    join first_utc f using (agency)
    where c.is_countable and not c.is_void and c.event_at >= f.first_utc
),
windowed as (
    select c.*, w.window_days, w.start_date, w.end_date
    from calls c
    join windows w on w.agency = c.agency and cast(c.event_local as date) between w.start_date and w.end_date
),
final as (
    select agency, window_days, start_date, end_date, call_nature, response_model, origin,
           case when time_precision = 'exact' then cast((isodow(event_local) - 1) * 24 + hour(event_local) as smallint)
           end as hour_of_week,
           coalesce(cast(district as varchar), '(unassigned)') as district,
           count(*) as n_calls,
           cast(getvariable('taxonomy_version') as varchar) as taxonomy_version
    from windowed
    group by all
)
select * from final
order by agency, window_days, call_nature, response_model, origin, hour_of_week, district;

comment on table marts.demand is 'calls by agency x analysis window x call nature x response model x origin x local hour of week x district: countable, non-void calls of core.calls whose local date of received_at falls in the window (marts.windows, ending at the agency''s as_of); hour_of_week null for a call without an exact time of day';
comment on column marts.demand.window_days is 'analysis window length, days (marts.windows)';
comment on column marts.demand.start_date is 'first local date of the window (inclusive)';
comment on column marts.demand.end_date is 'last local date of the window (inclusive): the agency''s as_of';
comment on column marts.demand.call_nature is 'standard call nature (config/taxonomy/call_natures.csv code; core.calls.call_nature): Unmapped (no reviewed crosswalk row), Unknown (no call type) or (not classified) (loaded before natures existed and not refreshed since)';
comment on column marts.demand.response_model is 'police_required, co_response, alternative, administrative, or unknown (nature Unmapped, Unknown or not classified); core.calls.response_model: a call flagged for weapons or violence in progress is never alternative';
comment on column marts.demand.origin is 'community (a call from the public), officer (self-initiated) or unknown';
comment on column marts.demand.hour_of_week is 'local hour of the week of received_at: 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00; null when the call has no exact time of day';
comment on column marts.demand.district is 'the call''s district (from the feed, else the district polygon layer); (unassigned) when it has none';
comment on column marts.demand.n_calls is 'countable, non-void calls';
comment on column marts.demand.taxonomy_version is 'version of the call-nature taxonomy (config/taxonomy/call_natures.csv) the natures come from';

create or replace view marts.demand_alternative_by_hour as
with community as (
    select agency, window_days, start_date, end_date, cast(hour_of_week % 24 as tinyint) as hour,
           response_model, n_calls, taxonomy_version
    from marts.demand
    where origin = 'community' and hour_of_week is not null
),
final as (
    select agency, window_days, start_date, end_date, hour,
           sum(n_calls) as n_calls,
           sum(n_calls) filter (where response_model = 'alternative') as n_alternative,
           sum(n_calls) filter (where response_model = 'unknown') as n_unknown_model,
           coalesce(sum(n_calls) filter (where response_model = 'alternative'), 0) / sum(n_calls)
               as share_alternative,
           coalesce(sum(n_calls) filter (where response_model = 'alternative'), 0)
               / nullif(sum(n_calls) filter (where response_model <> 'unknown'), 0) as share_alternative_known,
           any_value(taxonomy_version) as taxonomy_version
    from community
    group by all
)
select * replace (coalesce(n_alternative, 0) as n_alternative, coalesce(n_unknown_model, 0) as n_unknown_model)
from final
order by agency, window_days, hour;

comment on view marts.demand_alternative_by_hour is 'per agency x analysis window x local hour of day (0..23): the community-generated calls (origin community, countable, non-void, with an exact time of day) and the share an alternative responder could take (response_model alternative), from marts.demand';
comment on column marts.demand_alternative_by_hour.window_days is 'analysis window length, days (marts.windows)';
comment on column marts.demand_alternative_by_hour.start_date is 'first local date of the window (inclusive)';
comment on column marts.demand_alternative_by_hour.end_date is 'last local date of the window (inclusive): the agency''s as_of';
comment on column marts.demand_alternative_by_hour.hour is 'local hour of day of received_at, 0..23';
comment on column marts.demand_alternative_by_hour.n_calls is 'community-generated calls received in that hour over the window';
comment on column marts.demand_alternative_by_hour.n_alternative is 'of them, calls whose response model is alternative';
comment on column marts.demand_alternative_by_hour.n_unknown_model is 'of them, calls with no response model (nature Unmapped, Unknown or not classified)';
comment on column marts.demand_alternative_by_hour.share_alternative is 'n_alternative / n_calls (calls with no response model count as not alternative)';
comment on column marts.demand_alternative_by_hour.share_alternative_known is 'n_alternative / (n_calls - n_unknown_model): the share among calls with a response model; null when none has one';
comment on column marts.demand_alternative_by_hour.taxonomy_version is 'version of the call-nature taxonomy the natures come from';
