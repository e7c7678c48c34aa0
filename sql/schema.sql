-- The warehouse contract: schemas meta, raw, core and marts, and the data dictionary.
-- Grain of each table is given in its COMMENT. Every timestamp is TIMESTAMPTZ stored in UTC.
-- Idempotent: safe to run on an existing warehouse.

create schema if not exists meta;
create schema if not exists raw;
create schema if not exists core;
create schema if not exists marts;

create table if not exists meta.runs (
    run_id varchar primary key,
    flow varchar not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    status varchar not null,
    sources_ok integer,
    sources_failed integer,
    files_loaded integer,
    files_skipped integer,
    rows_read bigint,
    rows_loaded bigint,
    rows_duplicate bigint,
    rows_quarantined bigint,
    audits_failed_error integer,
    audits_failed_warn integer,
    message varchar
);

create table if not exists meta.loads (
    load_id varchar primary key,
    source varchar not null,
    path varchar not null,
    sha256 varchar not null,
    bytes bigint not null,
    extract_at timestamptz,
    rows_read bigint,
    rows_loaded bigint,
    rows_duplicate bigint,
    rows_quarantined bigint,
    loaded_at timestamptz not null,
    run_id varchar,
    status varchar not null,
    message varchar,
    file_columns json
);

-- columns added after the first release: appended, so old and new files have the same column order
alter table meta.loads add column if not exists file_records bigint;
alter table meta.runs add column if not exists files_waiting integer;

create table if not exists meta.landing_unmatched (
    run_id varchar not null,
    folder varchar not null,
    path varchar not null,
    bytes bigint not null,
    modified_at timestamptz
);

create table if not exists meta.audit_results (
    run_id varchar not null,
    check_name varchar not null,
    severity varchar not null,
    rows bigint not null,
    status varchar not null,
    description varchar,
    checked_at timestamptz
);

create table if not exists meta.mart_status (
    run_id varchar,
    built_at timestamptz not null,
    mart varchar not null,
    agency varchar not null,
    category_group varchar,
    state varchar not null,
    reason varchar
);

create table if not exists meta.agency_areas (
    agency varchar primary key,
    name varchar,
    crs varchar not null,
    geom geometry not null
);

create table if not exists meta.agency_area_tiles (
    agency varchar not null,
    x0 double not null,
    y0 double not null,
    size_m double not null,
    ix integer not null,
    iy integer not null,
    is_full boolean not null,
    geom geometry not null
);

create table if not exists core.quarantine (
    load_id varchar not null,
    source varchar not null,
    source_row bigint,
    reason varchar not null,
    raw json
);

create table if not exists core.calls (
    call_id varchar not null,
    source varchar not null,
    agency varchar not null,
    received_at timestamptz,
    entered_at timestamptz,
    dispatched_at timestamptz,
    enroute_at timestamptz,
    onscene_at timestamptz,
    cleared_at timestamptz,
    event_at timestamptz not null,
    time_precision varchar not null,
    time_issue varchar,
    intake_s double,
    queue_s double,
    travel_s double,
    response_s double,
    on_scene_s double,
    interval_issue varchar,
    call_type_code varchar,
    call_type varchar,
    call_type_initial varchar,
    call_category varchar,
    priority varchar,
    priority_level integer,
    disposition varchar,
    disposition_category varchar,
    origin varchar not null,
    self_initiated boolean,
    is_countable boolean not null,
    duplicate_of varchar,
    linked_to varchar,
    is_void boolean not null,
    n_responding_units integer,
    juvenile_flag boolean,
    address varchar,
    address_block varchar,
    location_key varchar,
    lon double,
    lat double,
    x double,
    y double,
    is_located boolean not null,
    location_issue varchar,
    beat varchar,
    district varchar,
    version_at timestamptz,
    load_id varchar not null,
    source_row bigint
);

create table if not exists core.incidents (
    incident_id varchar not null,
    source varchar not null,
    agency varchar not null,
    occurred_from timestamptz,
    occurred_to timestamptz,
    reported_at timestamptz,
    event_at timestamptz not null,
    time_precision varchar not null,
    time_issue varchar,
    offense_code varchar,
    offense varchar,
    offense_category varchar,
    crime_against varchar,
    n_offenses integer,
    origin varchar not null,
    is_void boolean not null,
    juvenile_flag boolean,
    address varchar,
    address_block varchar,
    location_key varchar,
    lon double,
    lat double,
    x double,
    y double,
    is_located boolean not null,
    location_issue varchar,
    beat varchar,
    district varchar,
    version_at timestamptz,
    load_id varchar not null,
    source_row bigint
);

create table if not exists core.offenses (
    incident_id varchar not null,
    source varchar not null,
    offense_seq integer not null,
    offense_code varchar,
    offense varchar,
    offense_category varchar,
    crime_against varchar,
    severity_rank integer,
    load_id varchar not null
);

create table if not exists core.call_units (
    call_id varchar not null,
    source varchar not null,
    agency varchar not null,
    unit_seq integer not null,
    unit_id varchar,
    assigned_at timestamptz,
    dispatched_at timestamptz,
    enroute_at timestamptz,
    onscene_at timestamptz,
    cleared_at timestamptz,
    busy_s double,
    travel_s double,
    on_scene_s double,
    interval_issue varchar,
    load_id varchar not null,
    source_row bigint
);

-- beat and district provenance, added after the first release: appended, so old and new files have the same
-- column order
alter table core.calls add column if not exists beat_source varchar;
alter table core.calls add column if not exists district_source varchar;
alter table core.calls add column if not exists beat_polygon varchar;
alter table core.calls add column if not exists district_polygon varchar;
alter table core.incidents add column if not exists beat_source varchar;
alter table core.incidents add column if not exists district_source varchar;
alter table core.incidents add column if not exists beat_polygon varchar;
alter table core.incidents add column if not exists district_polygon varchar;

-- call nature and response model (config/taxonomy/README.md), added after the first release: appended; the
-- next load of each calls source fills them on its earlier calls too (transforms/warehouse/natures.py)
alter table core.calls add column if not exists call_nature varchar;
alter table core.calls add column if not exists response_model varchar;
alter table core.calls add column if not exists response_model_reason varchar;
comment on column core.calls.call_nature is 'standard call nature (config/taxonomy/call_natures.csv, code) from the call-type crosswalk row of call_type_code marked reviewed; Unmapped when the code has no such row (none, or only a suggested one), Unknown when no call type was delivered; null on a call loaded before natures existed until its source loads again';
comment on column core.calls.response_model is 'who could answer: police_required, co_response (police with a clinician or medic), alternative (a civilian or behavioural-health responder alone), administrative (no field response) or unknown (nature Unmapped or Unknown); the nature''s model for the agency, except that a call flagged for weapons or violence in progress is never alternative';
comment on column core.calls.response_model_reason is 'why: taxonomy default, agency override ([agencies.<code>.response_models]), weapon or violence in progress (the type text names a weapon or shots, or a nature that can be violent says in progress or has priority level 1: an alternative nature made police_required), or no nature';

-- geocoding (sara issue 19), added after the first release: appended, so old and new files have the same column
-- order. A warehouse made before them gets the columns here, and its located rows become 'feed' (the only way a
-- row was located then); unlocated rows keep null. One block, with its comments, so it moves as one.
alter table core.calls add column if not exists geocode_method varchar;
alter table core.calls add column if not exists geocode_precision_m double;
alter table core.calls add column if not exists geocode_source varchar;
alter table core.calls add column if not exists geocode_status varchar;
alter table core.incidents add column if not exists geocode_method varchar;
alter table core.incidents add column if not exists geocode_precision_m double;
alter table core.incidents add column if not exists geocode_source varchar;
alter table core.incidents add column if not exists geocode_status varchar;
update core.calls set geocode_method = 'feed', geocode_source = source
where is_located and geocode_method is null;
update core.incidents set geocode_method = 'feed', geocode_source = source
where is_located and geocode_method is null;
comment on column core.calls.geocode_method is 'how the point was found: feed (the feed''s own coordinates), history (the same address located before in this agency''s data), intersection, interpolated (house number on a learned range), block (middle of a learned block), street (the street''s centroid); null when unlocated';
comment on column core.calls.geocode_precision_m is 'an honest radius of the point, metres: null for feed points unless the source sets geocode.feed_precision_m; a geocoded point always has one. An event enters a spatial unit only when this is at most the unit type''s limit ([analysis] max_precision_m)';
comment on column core.calls.geocode_source is 'where the point comes from: the source name for feed points, else what the geocoder used (e.g. history, streets)';
comment on column core.calls.geocode_status is 'the geocoder''s word on the row (sources with geocode.enabled only): why an address was not placed (e.g. ambiguous intersection: 2 crossings 1.4 km apart; unmatched street: POND LILLY; outside the agency area), the row then staying unlocated; what it matched when placed; null when the geocoder did not run on the row';
comment on column core.incidents.geocode_status is 'the geocoder''s word on the row: why it was not placed, or what it matched (as core.calls)';
comment on column core.incidents.geocode_method is 'how the point was found: feed, history, intersection, interpolated, block, street (as core.calls); null when unlocated';
comment on column core.incidents.geocode_precision_m is 'an honest radius of the point, metres (as core.calls)';
comment on column core.incidents.geocode_source is 'where the point comes from (as core.calls)';
-- end of the geocoding block

-- The data dictionary. `sara docs` prints these as Markdown.
comment on table meta.runs is 'One row per nightly flow run (run_id is the Prefect flow-run id). Times UTC.';
comment on column meta.runs.run_id is 'Prefect flow-run id';
comment on column meta.runs.flow is 'flow name (nightly, ingest)';
comment on column meta.runs.started_at is 'when the run started, UTC';
comment on column meta.runs.finished_at is 'when the run finished, UTC';
comment on column meta.runs.status is 'ok, partial (a file failed, or a file is still being written and held; the rest published), failed (not published)';
comment on column meta.runs.files_waiting is 'files held because they are still being written (meta.loads status waiting); tried again next run';
comment on column meta.runs.sources_ok is 'sources that loaded without error';
comment on column meta.runs.sources_failed is 'sources whose load failed (see meta.loads.message)';
comment on column meta.runs.files_loaded is 'files loaded in this run';
comment on column meta.runs.files_skipped is 'files skipped because the same bytes (sha256) were loaded before';
comment on column meta.runs.rows_read is 'rows read from all files in this run';
comment on column meta.runs.rows_loaded is 'rows accepted into core in this run';
comment on column meta.runs.rows_duplicate is 'rows counted as duplicates by the documented rules';
comment on column meta.runs.rows_quarantined is 'rows put in core.quarantine';
comment on column meta.runs.audits_failed_error is 'error audits that found rows (the night is then not published)';
comment on column meta.runs.audits_failed_warn is 'warn audits that found rows (recorded, not fatal)';
comment on column meta.runs.message is 'a short explanation when the run is partial or failed';

comment on table meta.loads is 'One row per file load. rows_read = rows_loaded + rows_duplicate + rows_quarantined = file_records. Times UTC.';
comment on column meta.loads.load_id is 'load id: <source>:<sha256 prefix>; <source>:waiting:<hash of the path> for a held file, <source>:refused:<hash of the path> for a file outside the landing folder';
comment on column meta.loads.source is 'source name (config/sources/<source>.yaml)';
comment on column meta.loads.path is 'file path under data/landing/<source>/';
comment on column meta.loads.sha256 is 'sha256 of the file bytes; the same bytes are never loaded twice; empty when the file was not read (refused, or held for its ready marker)';
comment on column meta.loads.bytes is 'file size in bytes';
comment on column meta.loads.extract_at is 'the extract''s own timestamp (file name or column), UTC; orders versions';
comment on column meta.loads.rows_read is 'data rows read from the file (header excluded)';
comment on column meta.loads.rows_loaded is 'rows accepted into core (unit rows of one call all count as loaded)';
comment on column meta.loads.rows_duplicate is 'rows not applied: exact duplicates (dedupe on), same record id repeated in the extract (last version wins), or stale versions older than core';
comment on column meta.loads.rows_quarantined is 'rows sent to core.quarantine with a reason';
comment on column meta.loads.loaded_at is 'when the load finished, UTC';
comment on column meta.loads.run_id is 'the run (meta.runs) that loaded it';
comment on column meta.loads.status is 'raw (read, awaiting normalize), loaded, failed (see message; retried every run while the file is in landing), waiting (still being written: held, nothing kept, tried again next run; one row per path)';
comment on column meta.loads.message is 'why a load failed or is waiting; quotes at most column names of the header, never other file content';
comment on column meta.loads.file_columns is 'the file''s header, as a JSON list of column names';
comment on column meta.loads.file_records is 'data records in the file counted without the reader (CSV: line ends outside quotes, blank lines excluded; Parquet: the footer''s row count); a load whose rows_read differs fails. Null for XLSX and vector files';

comment on table meta.landing_unmatched is 'One row per file under the landing folder that no source picked up (matches no file_pattern, or a folder no source is configured for), per run. Dotfiles, *.part files, ready markers and shapefile sidecars are left out.';
comment on column meta.landing_unmatched.run_id is 'the run (meta.runs) that saw the file';
comment on column meta.landing_unmatched.folder is 'its folder under the landing folder (a source name or another folder); empty at the top of landing';
comment on column meta.landing_unmatched.path is 'its path relative to the landing folder';
comment on column meta.landing_unmatched.bytes is 'its size in bytes (of the link itself for a symlink)';
comment on column meta.landing_unmatched.modified_at is 'its modification time, UTC';

comment on table meta.audit_results is 'One row per audit (sql/checks/*.sql) per run. An empty audit result passes.';
comment on column meta.audit_results.run_id is 'the run that ran the audit';
comment on column meta.audit_results.check_name is 'the file name of the audit in sql/checks/';
comment on column meta.audit_results.severity is 'error (blocks publishing) or warn (recorded)';
comment on column meta.audit_results.rows is 'offending rows found';
comment on column meta.audit_results.status is 'pass or fail';
comment on column meta.audit_results.description is 'what the audit checks';
comment on column meta.audit_results.checked_at is 'when it ran, UTC';

comment on table meta.mart_status is 'One row per mart x agency (x category group where it matters) per marts build: whether the mart holds rows for the agency and, when not, why. The night''s rows are marts.mart_status.';
comment on column meta.mart_status.run_id is 'the run (meta.runs) that built the marts; null for a build outside a run';
comment on column meta.mart_status.built_at is 'when the marts were built, UTC';
comment on column meta.mart_status.mart is 'the mart (table or view name in schema marts), or category_groups for a configured group';
comment on column meta.mart_status.agency is 'agency code from config/sara.toml';
comment on column meta.mart_status.category_group is 'the category group the row is about; null = the whole mart';
comment on column meta.mart_status.state is 'ok (rows), partial (rows, but some of them say no comparison or not classified), empty (no rows, or none usable), not applicable (the agency has no input of that kind: no calls feed, no tracked problem)';
comment on column meta.mart_status.reason is 'why the mart is empty or partial, in words; null when ok';

comment on table meta.agency_areas is 'One row per agency: the area every located point must fall in, in the agency analysis CRS (metres).';
comment on column meta.agency_areas.agency is 'agency code from config/sara.toml';
comment on column meta.agency_areas.name is 'agency name';
comment on column meta.agency_areas.crs is 'the analysis CRS of geom and of core x/y';
comment on column meta.agency_areas.geom is 'the agency boundary (or bbox) polygon, analysis CRS';

comment on table meta.agency_area_tiles is 'The agency area cut into grid tiles (analysis CRS) so a point-in-area test touches one small piece: tile = floor((x - x0) / size_m), floor((y - y0) / size_m).';
comment on column meta.agency_area_tiles.agency is 'agency code';
comment on column meta.agency_area_tiles.x0 is 'grid origin easting, metres';
comment on column meta.agency_area_tiles.y0 is 'grid origin northing, metres';
comment on column meta.agency_area_tiles.size_m is 'tile size, metres';
comment on column meta.agency_area_tiles.ix is 'tile column';
comment on column meta.agency_area_tiles.iy is 'tile row';
comment on column meta.agency_area_tiles.is_full is 'the tile lies wholly inside the area';
comment on column meta.agency_area_tiles.geom is 'the part of the area in this tile';

comment on table core.quarantine is 'One row per delivered row that could not be used at all, with the reason. Nothing is dropped silently.';
comment on column core.quarantine.load_id is 'the load (meta.loads) it came from';
comment on column core.quarantine.source is 'source name';
comment on column core.quarantine.source_row is '1-based data row number in the file (header excluded)';
comment on column core.quarantine.reason is 'code: text, e.g. no_timestamp: received_at missing or unparseable';
comment on column core.quarantine.raw is 'the row as delivered, as JSON (all text)';

comment on table core.calls is 'One row per CAD call for service, the latest version. Times UTC. Void records stay for audit and are left out of every mart.';
comment on column core.calls.call_id is 'the call id from the source (unique per source)';
comment on column core.calls.source is 'source name (config/sources/<source>.yaml)';
comment on column core.calls.agency is 'agency code from config/sara.toml';
comment on column core.calls.received_at is 'call received (phone pick-up or on-view start), UTC';
comment on column core.calls.entered_at is 'call entered in CAD, UTC';
comment on column core.calls.dispatched_at is 'first unit dispatched, UTC';
comment on column core.calls.enroute_at is 'first unit en route, UTC';
comment on column core.calls.onscene_at is 'first unit on scene, UTC';
comment on column core.calls.cleared_at is 'last unit cleared, UTC';
comment on column core.calls.event_at is 'the one time every window and count uses: received_at, UTC';
comment on column core.calls.time_precision is 'of received_at: exact, date_only (the source declares a date without a time of day, or its formats read none) or unknown_time (an unknown_time rule holds); a call that is not exact has no intervals from received_at, no response time and no hour of week';
comment on column core.calls.time_issue is 'comma-separated: future (after load time), before_floor (before the configured floor), unparseable_<field> (delivered but does not parse), sentinel_<field> (a primary time holding a sentinel date: null, by the sentinel rule), dst_gap_<field> (a local time in a spring-forward gap, read with the offset before the gap), dst_overlap_<field> (a local time in an autumn overlap, read as the later, standard time); the row is kept. The time_issues audit counts all but sentinel_ and dst_ flags';
comment on column core.calls.intake_s is 'seconds, entered - received (first unit); null if negative or either end is not an exact time (see interval_issue)';
comment on column core.calls.queue_s is 'seconds, dispatched - entered (or - received without entry time); null if negative or either end is not an exact time';
comment on column core.calls.travel_s is 'seconds, on scene - dispatched (first unit); null if negative or either end is not an exact time';
comment on column core.calls.response_s is 'seconds, on scene - received (first unit); null if negative or either end is not an exact time';
comment on column core.calls.on_scene_s is 'seconds, cleared (last unit) - on scene (first unit); null if negative or either end is not an exact time';
comment on column core.calls.interval_issue is 'comma-separated, per interval: <interval><0 (negative, impossible: set to null, e.g. travel_s<0), <interval>:date_only or <interval>:unknown_time (an end is a date without a time of day, or the time of day is unknown: null, never 0 s), <interval>:dst_change (an end is a local time in a DST gap or overlap: of the readings the change allows, the shortest that is not negative, so an in-order wall-clock sequence is never negative; see sql/core/calls.sql)';
comment on column core.calls.call_type_code is 'final call type code as delivered';
comment on column core.calls.call_type is 'final call type, named by the crosswalk (the code itself if unmapped)';
comment on column core.calls.call_type_initial is 'initial call type, named by the crosswalk';
comment on column core.calls.call_category is 'Vera Institute-style 911 category from the crosswalk; Unmapped if the code is not in it';
comment on column core.calls.priority is 'priority as delivered';
comment on column core.calls.priority_level is 'crosswalked priority, 1 (most urgent) to 5';
comment on column core.calls.disposition is 'disposition code as delivered';
comment on column core.calls.disposition_category is 'disposition category from the crosswalk (Cancelled, Duplicate, Report ...); Unmapped if not in it';
comment on column core.calls.origin is 'community (a call from the public), officer (self-initiated) or unknown';
comment on column core.calls.self_initiated is 'true when origin is officer, false when community, null when unknown';
comment on column core.calls.is_countable is 'false for a duplicate, cancelled or linked call, or a void record';
comment on column core.calls.duplicate_of is 'the call id this call duplicates';
comment on column core.calls.linked_to is 'the call id this call is linked to';
comment on column core.calls.is_void is 'the feed marks the record deleted or void; kept for audit, left out of every mart';
comment on column core.calls.n_responding_units is 'responding units of the call (unit-grain feeds: its rows that name a unit or carry a unit time, 0 when none was sent; see core.call_units); 1 for a feed with one row per call';
comment on column core.calls.juvenile_flag is 'the feed''s juvenile-involved flag, where it has one';
comment on column core.calls.address is 'address as cleaned (upper case, suffixes normalised)';
comment on column core.calls.address_block is 'block address, e.g. 1700 BLOCK JERROLD AVE, or A ST / B ST for an intersection';
comment on column core.calls.location_key is 'groups events at one place: premise name, else full address, else block, else rounded x/y';
comment on column core.calls.lon is 'longitude, WGS84 (EPSG:4326)';
comment on column core.calls.lat is 'latitude, WGS84 (EPSG:4326)';
comment on column core.calls.x is 'easting in the agency analysis CRS, metres';
comment on column core.calls.y is 'northing in the agency analysis CRS, metres';
comment on column core.calls.is_located is 'true when the point is usable and inside the agency area';
comment on column core.calls.location_issue is 'missing, zero (0,0), unparseable, out_of_area, swapped_repaired (lat/lon swapped, fixed), as delivered; a point that is not a location (a station, a centroid, a geocoder default) is flagged placeholder in marts.events, from marts.placeholder_points over the agency''s whole history, not here';
comment on column core.calls.beat is 'the beat: the feed''s own value (columns.beat, renamed by crosswalks.beats), else the beat polygon containing the point (polygons.beat); see beat_source';
comment on column core.calls.district is 'the district: the feed''s own value (columns.district, renamed by crosswalks.districts), else the district polygon containing the point (polygons.district); see district_source';
comment on column core.calls.beat_source is 'where beat comes from: feed (the feed''s own column), polygon (the configured layer; the feed has no value or no beat column) or null (neither)';
comment on column core.calls.district_source is 'where district comes from: feed, polygon or null, as beat_source';
comment on column core.calls.beat_polygon is 'the beat polygon containing the point, also where the feed gave a beat (a feed value that differs is a disagreement: sara status); null without a polygons.beat layer';
comment on column core.calls.district_polygon is 'the district polygon containing the point, also where the feed gave a district; null without a polygons.district layer';
comment on column core.calls.version_at is 'version time: updated_at where the feed has one, else the extract time, UTC';
comment on column core.calls.load_id is 'the load (meta.loads) of this version';
comment on column core.calls.source_row is 'data row number in that file (first unit row for unit-grain feeds)';

comment on table core.incidents is 'One row per RMS incident, the latest version, classified by its most serious offence. Times UTC.';
comment on column core.incidents.incident_id is 'the incident id from the source (generated from the row content when the feed has none)';
comment on column core.incidents.source is 'source name';
comment on column core.incidents.agency is 'agency code from config/sara.toml';
comment on column core.incidents.occurred_from is 'start of the occurrence window, UTC';
comment on column core.incidents.occurred_to is 'end of the occurrence window, UTC';
comment on column core.incidents.reported_at is 'when reported, UTC';
comment on column core.incidents.event_at is 'the one time every window and count uses: occurred_from, else reported_at, UTC';
comment on column core.incidents.time_precision is 'of occurred_from (else reported_at): exact, date_only (declared, or the formats read no time of day) or unknown_time (an unknown_time rule holds); an incident that is not exact has no hour of week';
comment on column core.incidents.time_issue is 'comma-separated: future, before_floor, unparseable_<field> (delivered but does not parse; occurred_from or reported_at when the row is kept on the other), sentinel_<field>, dst_gap_<field>, dst_overlap_<field> (as in core.calls); the row is kept';
comment on column core.incidents.offense_code is 'code of the most serious offence (hierarchy: crosswalk severity_rank, UCR order)';
comment on column core.incidents.offense is 'name of the most serious offence';
comment on column core.incidents.offense_category is 'category of the most serious offence; Unmapped if not in the crosswalk';
comment on column core.incidents.crime_against is 'NIBRS crime against: Person, Property, Society (or Not a Crime)';
comment on column core.incidents.n_offenses is 'offences in the incident (see core.offenses)';
comment on column core.incidents.origin is 'community, officer or unknown';
comment on column core.incidents.is_void is 'the feed marks the record deleted or unfounded; kept for audit, left out of every mart';
comment on column core.incidents.juvenile_flag is 'the feed''s juvenile-involved flag, where it has one';
comment on column core.incidents.address is 'address as cleaned';
comment on column core.incidents.address_block is 'block address, e.g. 1000 BLOCK ALBERNI ST';
comment on column core.incidents.location_key is 'groups events at one place: premise, full address, block, rounded x/y';
comment on column core.incidents.lon is 'longitude, WGS84';
comment on column core.incidents.lat is 'latitude, WGS84';
comment on column core.incidents.x is 'easting in the agency analysis CRS, metres';
comment on column core.incidents.y is 'northing in the agency analysis CRS, metres';
comment on column core.incidents.is_located is 'true when the point is usable and inside the agency area';
comment on column core.incidents.location_issue is 'missing, zero, unparseable, out_of_area, swapped_repaired, as delivered (placeholder points: marts.events, as core.calls)';
comment on column core.incidents.beat is 'the beat: the feed''s own value (columns.beat, renamed by crosswalks.beats), else the beat polygon containing the point (polygons.beat); see beat_source';
comment on column core.incidents.district is 'the district: the feed''s own value (columns.district, renamed by crosswalks.districts), else the district polygon containing the point (polygons.district); see district_source';
comment on column core.incidents.beat_source is 'where beat comes from: feed (the feed''s own column), polygon (the configured layer; the feed has no value or no beat column) or null (neither)';
comment on column core.incidents.district_source is 'where district comes from: feed, polygon or null, as beat_source';
comment on column core.incidents.beat_polygon is 'the beat polygon containing the point, also where the feed gave a beat (a feed value that differs is a disagreement: sara status); null without a polygons.beat layer';
comment on column core.incidents.district_polygon is 'the district polygon containing the point, also where the feed gave a district; null without a polygons.district layer';
comment on column core.incidents.version_at is 'version time, UTC';
comment on column core.incidents.load_id is 'the load of this version';
comment on column core.incidents.source_row is 'data row number in that file';

comment on table core.offenses is 'One row per offence of an incident (multi-offence incidents have several).';
comment on column core.offenses.incident_id is 'the incident (core.incidents)';
comment on column core.offenses.source is 'source name';
comment on column core.offenses.offense_seq is 'offence sequence within the incident, 1-based';
comment on column core.offenses.offense_code is 'offence code as delivered';
comment on column core.offenses.offense is 'offence name';
comment on column core.offenses.offense_category is 'offence category from the crosswalk';
comment on column core.offenses.crime_against is 'NIBRS crime against';
comment on column core.offenses.severity_rank is 'hierarchy rank, 1 most serious (UCR order)';
comment on column core.offenses.load_id is 'the load of this version';

comment on table core.call_units is 'One row per responding unit per call, for feeds delivered one row per unit (event_grain: unit); the version of the call in core.calls. Feeds with one row per call have no rows here.';
comment on column core.call_units.call_id is 'the call (core.calls)';
comment on column core.call_units.source is 'source name';
comment on column core.call_units.agency is 'agency code';
comment on column core.call_units.unit_seq is 'the unit''s order in the call, 1-based: by assignment time, then file order';
comment on column core.call_units.unit_id is 'the unit''s id as delivered (null when the feed does not map unit_id)';
comment on column core.call_units.assigned_at is 'when the unit was first assigned, UTC: dispatched_at, else en route, else on scene (an on-view unit has no dispatch)';
comment on column core.call_units.dispatched_at is 'the unit''s dispatch time, UTC';
comment on column core.call_units.enroute_at is 'the unit''s en route time, UTC';
comment on column core.call_units.onscene_at is 'the unit''s arrival on scene, UTC';
comment on column core.call_units.cleared_at is 'the unit''s clear time, UTC';
comment on column core.call_units.busy_s is 'time the unit was committed to the call, seconds: assigned_at to cleared_at (unit-hours = sum / 3600); null when either end is missing or not an exact time';
comment on column core.call_units.travel_s is 'seconds from the unit''s dispatch to its arrival on scene';
comment on column core.call_units.on_scene_s is 'seconds from the unit''s arrival on scene to its clear time';
comment on column core.call_units.interval_issue is 'why an interval is null or was read by the DST rule: <interval>:date_only, :unknown_time, :dst_change, <interval><0 (as core.calls.interval_issue)';
comment on column core.call_units.load_id is 'the load of this version of the call';
comment on column core.call_units.source_row is 'data row number of the unit''s row in that file';
