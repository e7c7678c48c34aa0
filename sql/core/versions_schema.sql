-- Version history (sara issue 18), part of the warehouse contract: applied right after sql/schema.sql
-- (transforms/warehouse/db.py apply_schema), idempotent like it. One row per distinct version of a record,
-- written in the load's own transaction (transforms/warehouse/versions.py). A row keeps a content hash of the
-- record's canonical fields and, in full, only the fields a restatement needs; the full row of the current
-- version is core.calls / core.incidents. An existing warehouse's current rows seed it on the next load of
-- each source.
create table if not exists core.call_versions (
    call_id varchar not null,
    source varchar not null,
    version_seq integer not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    load_id varchar not null,
    ended_load_id varchar,
    row_hash ubigint not null,
    agency varchar not null,
    event_at timestamptz not null,
    call_type_code varchar,
    call_category varchar,
    priority_level integer,
    disposition varchar,
    disposition_category varchar,
    is_countable boolean not null,
    is_void boolean not null,
    location_key varchar,
    x double,
    y double,
    beat varchar,
    district varchar
);
create table if not exists core.incident_versions (
    incident_id varchar not null,
    source varchar not null,
    version_seq integer not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    load_id varchar not null,
    ended_load_id varchar,
    row_hash ubigint not null,
    agency varchar not null,
    event_at timestamptz not null,
    offense_code varchar,
    offense_category varchar,
    crime_against varchar,
    is_void boolean not null,
    location_key varchar,
    x double,
    y double,
    beat varchar,
    district varchar
);
-- which hash scheme made each source's stored row_hash values (transforms/warehouse/version_hash.py)
create table if not exists meta.version_hash (
    source varchar primary key,
    scheme varchar not null,
    fingerprint ubigint not null,
    closed_md5 boolean not null,
    updated_at timestamptz not null
);
comment on table meta.version_hash is 'One row per source with a version history: the hash scheme of its core.call_versions / core.incident_versions row_hash values. A source with versions and no row here has md5-text hashes (the first scheme)';
comment on column meta.version_hash.source is 'source name';
comment on column meta.version_hash.scheme is 'duckdb-hash: DuckDB''s hash() of the canonical fields, each cast to its core type';
comment on column meta.version_hash.fingerprint is 'the hash of a fixed probe tuple by the DuckDB that computed the open versions'' hashes: another value under the running DuckDB makes the next load rehash the open versions from core';
comment on column meta.version_hash.closed_md5 is 'closed versions may keep md5-text hashes (from before the switch): a late older version is also checked against its md5-text hash';
comment on column meta.version_hash.updated_at is 'when the open versions were last (re)hashed under this scheme, UTC';
comment on table core.call_versions is 'One row per distinct version of a CAD call (core.calls holds the current one): a re-delivered identical version adds nothing. Keeps a hash of the canonical fields and, in full, the fields a restatement needs. Times UTC.';
comment on table core.incident_versions is 'One row per distinct version of an RMS incident (core.incidents holds the current one), as core.call_versions. Times UTC.';
comment on column core.call_versions.call_id is 'the call (core.calls.call_id)';
comment on column core.incident_versions.incident_id is 'the incident (core.incidents.incident_id)';
comment on column core.call_versions.version_seq is 'the version''s number for the record, 1-based, in order of arrival (a late older version arrives after newer ones)';
comment on column core.call_versions.valid_from is 'when the version took effect: its version_at (updated_at where the feed has one, else the extract time), else the load time, UTC';
comment on column core.call_versions.valid_to is 'when a newer version (its valid_from) or the extract that dropped the record replaced it, UTC; null for the current version. A late older version gets the newer version''s valid_from at arrival';
comment on column core.call_versions.load_id is 'the load (meta.loads) that brought the version';
comment on column core.call_versions.ended_load_id is 'the load that ended it (a newer version, a replaced day that dropped the record, or, for a late older version, its own load); null while current. As known at a time: the versions whose load was published by then and whose ending load was not';
comment on column core.call_versions.row_hash is 'hash of the canonical fields of core.calls except load_id, source_row, the call nature fields and raw_* columns, and of version_at only where the feed has its own updated_at: equal hash, same version. Scheme in meta.version_hash: DuckDB''s hash() of the fields (open versions rehashed from core.calls when the DuckDB version changes it); closed versions written before keep theirs (md5 of the fields as text, lower 64 bits, or an older DuckDB''s hash())';
comment on column core.call_versions.call_type_code is 'final call type code, as core.calls';
comment on column core.call_versions.call_category is 'call category, as core.calls';
comment on column core.call_versions.priority_level is 'crosswalked priority 1 to 5, as core.calls';
comment on column core.call_versions.disposition is 'disposition code, as core.calls';
comment on column core.call_versions.disposition_category is 'disposition category, as core.calls';
comment on column core.call_versions.is_countable is 'as core.calls';
comment on column core.incident_versions.offense_code is 'code of the most serious offence, as core.incidents';
comment on column core.incident_versions.offense_category is 'category of the most serious offence, as core.incidents';
comment on column core.incident_versions.crime_against is 'NIBRS crime against, as core.incidents';
comment on column core.call_versions.source is 'source name';
comment on column core.call_versions.agency is 'agency code, as core.calls';
comment on column core.call_versions.event_at is 'the time windows and counts use, UTC, as core.calls';
comment on column core.call_versions.is_void is 'void, deleted or unfounded, as core.calls';
comment on column core.call_versions.location_key is 'groups events at one place, as core.calls';
comment on column core.call_versions.x is 'easting, analysis CRS, metres, as core.calls';
comment on column core.call_versions.y is 'northing, analysis CRS, metres, as core.calls';
comment on column core.call_versions.beat is 'the beat, as core.calls';
comment on column core.call_versions.district is 'the district, as core.calls';
comment on column core.incident_versions.version_seq is 'as core.call_versions';
comment on column core.incident_versions.valid_from is 'as core.call_versions';
comment on column core.incident_versions.valid_to is 'as core.call_versions';
comment on column core.incident_versions.load_id is 'the load (meta.loads) that brought the version';
comment on column core.incident_versions.ended_load_id is 'the load that ended it, as core.call_versions';
comment on column core.incident_versions.row_hash is 'hash of the canonical fields of core.incidents, as core.call_versions (open versions rehashed from core.incidents)';
comment on column core.incident_versions.source is 'source name';
comment on column core.incident_versions.agency is 'agency code, as core.incidents';
comment on column core.incident_versions.event_at is 'the time windows and counts use, UTC, as core.incidents';
comment on column core.incident_versions.is_void is 'void, deleted or unfounded, as core.incidents';
comment on column core.incident_versions.location_key is 'groups events at one place, as core.incidents';
comment on column core.incident_versions.x is 'easting, analysis CRS, metres, as core.incidents';
comment on column core.incident_versions.y is 'northing, analysis CRS, metres, as core.incidents';
comment on column core.incident_versions.beat is 'the beat, as core.incidents';
comment on column core.incident_versions.district is 'the district, as core.incidents';
-- as known at a time: the versions whose load was published by then (its run's finish time; a load outside a
-- run: its own loaded_at) and not ended by a load published by then
create or replace macro core.calls_as_known_at(ts) as table
    select v.* exclude (valid_to, ended_load_id)
    from core.call_versions v
    join (select l.load_id, coalesce(r.finished_at, l.loaded_at) as known_at
          from meta.loads l left join meta.runs r on r.run_id = l.run_id) k on k.load_id = v.load_id
    left join (select l.load_id, coalesce(r.finished_at, l.loaded_at) as known_at
               from meta.loads l left join meta.runs r on r.run_id = l.run_id) e on e.load_id = v.ended_load_id
    where k.known_at <= cast(ts as timestamptz) and (e.known_at is null or e.known_at > cast(ts as timestamptz));
create or replace macro core.incidents_as_known_at(ts) as table
    select v.* exclude (valid_to, ended_load_id)
    from core.incident_versions v
    join (select l.load_id, coalesce(r.finished_at, l.loaded_at) as known_at
          from meta.loads l left join meta.runs r on r.run_id = l.run_id) k on k.load_id = v.load_id
    left join (select l.load_id, coalesce(r.finished_at, l.loaded_at) as known_at
               from meta.loads l left join meta.runs r on r.run_id = l.run_id) e on e.load_id = v.ended_load_id
    where k.known_at <= cast(ts as timestamptz) and (e.known_at is null or e.known_at > cast(ts as timestamptz));
-- what changed between consecutive current versions of a record (versions superseded at arrival never were
-- current): one row per kind of change, with the old and new values and the load of the new version
create or replace view core.version_changes as
with v as (
    select 'call' as record_kind, source, call_id as record_id, agency, version_seq, valid_from, load_id,
           coalesce(call_category, '(none)') || ': ' || coalesce(call_type_code, '(none)') as what,
           coalesce(disposition_category, '(none)') || ': ' || coalesce(disposition, '(none)') || ', countable '
               || is_countable as disposition, is_void, location_key, x, y, event_at
    from core.call_versions where ended_load_id is distinct from load_id
    union all
    select 'incident', source, incident_id, agency, version_seq, valid_from, load_id,
           coalesce(offense_category, '(none)') || ': ' || coalesce(offense_code, '(none)'), null, is_void, location_key, x, y,
           event_at
    from core.incident_versions where ended_load_id is distinct from load_id),
p as (
    select *, lag(what) over w as what0, lag(disposition) over w as disposition0, lag(is_void) over w as void0,
           lag(location_key) over w as location_key0, lag(x) over w as x0, lag(y) over w as y0,
           lag(event_at) over w as event_at0, lag(version_seq) over w as seq0
    from v window w as (partition by record_kind, source, record_id order by version_seq))
select record_kind, source, record_id, agency, load_id, valid_from, change, old_value, new_value
from p, lateral (values
    ('reclassified', what0, what, what0 is distinct from what),
    ('disposition', disposition0, disposition, disposition0 is distinct from disposition),
    (case when is_void then 'voided or unfounded' else 'restored' end, cast(void0 as varchar), cast(is_void as varchar),
     void0 is distinct from is_void),
    ('relocated', location_key0 || ' (' || round(x0) || ', ' || round(y0) || ')',
     location_key || ' (' || round(x) || ', ' || round(y) || ')',
     location_key0 is distinct from location_key or x0 is distinct from x or y0 is distinct from y),
    ('retimed', cast(event_at0 as varchar), cast(event_at as varchar), event_at0 is distinct from event_at)
) c(change, old_value, new_value, changed)
where seq0 is not null and changed;
comment on view core.version_changes is 'One row per kind of change between consecutive current versions of a record (core.call_versions, core.incident_versions): reclassified (category or code), disposition (calls: disposition category, code or countable flag), voided or unfounded / restored, relocated (location key or point), retimed (event_at). Versions superseded at arrival were never current and are left out.';
comment on column core.version_changes.record_kind is 'call or incident';
comment on column core.version_changes.source is 'source name';
comment on column core.version_changes.record_id is 'the call or incident id';
comment on column core.version_changes.agency is 'agency code';
comment on column core.version_changes.load_id is 'the load (meta.loads) that brought the new version';
comment on column core.version_changes.valid_from is 'the new version''s valid_from, UTC';
comment on column core.version_changes.change is 'reclassified, disposition, voided or unfounded, restored, relocated, retimed';
comment on column core.version_changes.old_value is 'the value before, as text (category: code; location key (x, y); UTC time)';
comment on column core.version_changes.new_value is 'the value after, as text';
