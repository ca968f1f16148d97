-- Alerts: the columns that SQL updates (closing with an incident, following
-- a merge) are authoritative over the same fields in doc.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    data_source_id INTEGER NOT NULL,
    alert_key TEXT NOT NULL,
    channel_id INTEGER NOT NULL,
    incident_id TEXT NOT NULL DEFAULT '',
    progress TEXT NOT NULL,
    close_time INTEGER NOT NULL DEFAULT 0,
    start_time INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_open_key ON alerts(data_source_id, alert_key) WHERE progress <> 'Closed';
CREATE INDEX alerts_incident ON alerts(incident_id);
CREATE INDEX alerts_start ON alerts(start_time);

-- Every raw event, kept with its alert.
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events(alert_id, id);

-- Integration keys of alert sources, hashed like app keys.
CREATE TABLE source_keys (
    key_hash TEXT PRIMARY KEY,
    integration_id INTEGER NOT NULL
);

ALTER TABLE incidents ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_group ON incidents(channel_id, group_key) WHERE group_key <> '';
