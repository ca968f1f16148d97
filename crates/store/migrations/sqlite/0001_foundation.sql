CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (team_id, person_id)
);

CREATE TABLE app_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES people(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX app_keys_person ON app_keys(person_id);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    team_id INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    grouping TEXT NOT NULL,
    storm_thresholds TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE field_defs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    num TEXT NOT NULL,
    channel_id INTEGER NOT NULL,
    progress TEXT NOT NULL,
    severity TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    snoozed_before INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    labels_text TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX incidents_start ON incidents(start_time, created_ms, id);
CREATE INDEX incidents_num ON incidents(num);
CREATE INDEX incidents_snoozed ON incidents(snoozed_before) WHERE snoozed_before > 0;

CREATE TABLE timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    person TEXT,
    created_at INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX timeline_incident ON timeline(incident_id, id);

-- The outbox: one row per event, written in the transaction of its change.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_subject ON events(subject_id, seq);
