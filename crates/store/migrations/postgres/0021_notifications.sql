-- E-mail notifications. A channel's notify settings (JSON: team,
-- renotify_minutes, renotify_rounds); whether a person wants no mail.
ALTER TABLE channels ADD COLUMN notify TEXT NOT NULL DEFAULT '{}';
ALTER TABLE people ADD COLUMN mail_off BIGINT NOT NULL DEFAULT 0;
-- One row per re-notify round started, written with the round's delivery
-- in one transaction: a round is queued once, whichever process gets there
-- first, and a restart goes on from the rounds already written.
CREATE TABLE renotify_rounds (
    incident_id TEXT NOT NULL,
    round BIGINT NOT NULL,
    delivery_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, round)
);
CREATE INDEX renotify_rounds_delivery ON renotify_rounds(delivery_id);
-- The re-notifier looks for unacknowledged incidents of a channel.
CREATE INDEX incidents_triggered ON incidents(channel_id, start_time) WHERE progress = 'Triggered';
-- One e-mail integration per installation, however many processes start.
CREATE UNIQUE INDEX integrations_one_mail ON integrations(kind) WHERE kind = 'mail';
