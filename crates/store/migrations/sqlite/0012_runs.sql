-- The idempotency keys of presses were kept in "action_runs"; the name now
-- belongs to the runs themselves.
ALTER TABLE action_runs RENAME TO press_keys;
DROP INDEX action_runs_created;
CREATE INDEX press_keys_created ON press_keys(created_at);

-- Every trigger of a custom action: the whole run as JSON in doc, and the
-- columns it is found by.
CREATE TABLE action_runs (
    run_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    action_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    -- async runs: the callback token's SHA-256 (hex), and when a run still
    -- running becomes timed_out (Unix s); '' and 0 otherwise.
    token_hash TEXT NOT NULL DEFAULT '',
    deadline INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX action_runs_incident ON action_runs(incident_id, created_ms);
CREATE INDEX action_runs_token ON action_runs(token_hash);
CREATE INDEX action_runs_deadline ON action_runs(status, deadline);
