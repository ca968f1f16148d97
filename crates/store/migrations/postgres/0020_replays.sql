-- Replays: an integration's failed and skipped deliveries of a time window,
-- queued again oldest first at a set rate. `queued` is how many of its
-- items have been queued so far: advanced in the transaction that queues
-- them, so a restart goes on where it stopped and queues nothing twice.
CREATE TABLE replays (
    id TEXT PRIMARY KEY,
    integration_id BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    statuses TEXT NOT NULL,
    rate_per_s BIGINT NOT NULL,
    total BIGINT NOT NULL,
    queued BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    ended_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX replays_running ON replays(state);
-- One per event, in the order they are queued; delivery_id is the new
-- delivery once queued (0 before).
CREATE TABLE replay_items (
    replay_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_seq BIGINT NOT NULL,
    subject_key TEXT NOT NULL,
    delivery_id BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (replay_id, position)
);
