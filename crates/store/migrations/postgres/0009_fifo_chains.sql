-- Every index keyed by incident takes a page of its own per incident in each
-- write batch: with many incidents changing at once, most of the log a push
-- cost was those pages. The queue's order per (integration, subject) now
-- lives in the rows instead: each unfinished delivery points to the next of
-- its key (next_id), and delivery_tails holds each key's newest delivery, so
-- a new one finds what it queues behind without an index per key.
ALTER TABLE deliveries ADD COLUMN next_id BIGINT NOT NULL DEFAULT 0;
CREATE TABLE delivery_tails (
    integration_id BIGINT NOT NULL,
    subject_key TEXT NOT NULL,
    tail_id BIGINT NOT NULL,
    PRIMARY KEY (integration_id, subject_key)
);

UPDATE deliveries SET next_id = COALESCE((
    SELECT MIN(n.id) FROM deliveries n
    WHERE n.integration_id = deliveries.integration_id
      AND n.subject_key = deliveries.subject_key
      AND n.state IN ('waiting', 'pending', 'leased')
      AND n.id > deliveries.id), 0)
WHERE state IN ('waiting', 'pending', 'leased');
INSERT INTO delivery_tails (integration_id, subject_key, tail_id)
SELECT integration_id, subject_key, MAX(id) FROM deliveries
WHERE state IN ('waiting', 'pending', 'leased')
GROUP BY integration_id, subject_key;

DROP INDEX deliveries_waiting;
DROP INDEX deliveries_open;
-- For an integration's unsent deliveries (deleting it) and the queue's size.
CREATE INDEX deliveries_open ON deliveries(integration_id, id) WHERE state IN ('waiting', 'pending', 'leased');
-- Never read.
DROP INDEX events_subject;
