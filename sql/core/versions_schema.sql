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
comment on table core.call_versions is 'One row per distinct version of a CAD call (core.calls holds the current one): a re-delivered identical version adds nothing. Keeps a hash of the canonical fields and, in full, the fields a restatement needs. Times UTC.';
comment on table core.incident_versions is 'One row per distinct version of an RMS incident (core.incidents holds the current one), as core.call_versions. Times UTC.';
comment on column core.call_versions.call_id is 'the call (core.calls.call_id)';
comment on column core.incident_versions.incident_id is 'the incident (core.incidents.incident_id)';
comment on column core.call_versions.version_seq is 'the version''s number for the record, 1-based, in order of arrival (a late older version arrives after newer ones)';
comment on column core.call_versions.valid_from is 'when the version took effect: its version_at (updated_at where the feed has one, else the extract time), else the load time, UTC';
comment on column core.call_versions.valid_to is 'when a newer version (its valid_from) or the extract that dropped the record replaced it, UTC; null for the current version. A late older version gets the newer version''s valid_from at arrival';
comment on column core.call_versions.load_id is 'the load (meta.loads) that brought the version';
comment on column core.call_versions.ended_load_id is 'the load that ended it (a newer version, a replaced day that dropped the record, or, for a late older version, its own load); null while current. As known at a time: the versions whose load was published by then and whose ending load was not';
comment on column core.call_versions.row_hash is 'hash (md5, lower 64 bits) of the canonical fields of core.calls except load_id, source_row, the call nature fields and raw_* columns, and of version_at only where the feed has its own updated_at: equal hash, same version';
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
comment on column core.incident_versions.row_hash is 'hash of the canonical fields of core.incidents, as core.call_versions';
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
