CREATE TABLE integrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    team_id INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_secret_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX integrations_kind ON integrations(kind, enabled);

-- One row per (event, subscribed integration), written with the event.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL,
    integration_id INTEGER NOT NULL,
    subject_key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE INDEX deliveries_fifo ON deliveries(integration_id, subject_key, id);

-- The invocation history: one row per attempt.
CREATE TABLE attempts (
    invocation_id TEXT PRIMARY KEY,
    integration_id INTEGER NOT NULL,
    integration_kind TEXT NOT NULL,
    delivery_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    test INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    success INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    error_class TEXT NOT NULL,
    error TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX attempts_integration ON attempts(integration_id, started_at);
CREATE INDEX attempts_started ON attempts(started_at);
