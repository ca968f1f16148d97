-- Which channels a custom action shows on: the per-channel limit and the
-- incident's "More actions" list read this, not the JSON config.
CREATE TABLE action_channels (
    channel_id BIGINT NOT NULL,
    integration_id BIGINT NOT NULL,
    PRIMARY KEY (channel_id, integration_id)
);
CREATE INDEX action_channels_integration ON action_channels(integration_id);

-- Trigger results kept for the idempotency window; result is NULL while the
-- first trigger with the key is still running.
CREATE TABLE action_runs (
    person_id BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (person_id, idempotency_key)
);
CREATE INDEX action_runs_created ON action_runs(created_at);
