-- Key tails by subject first: a create's tails, one per subscribed webhook,
-- sit side by side at the index's growing edge instead of at an edge of
-- each webhook's range (measured on SQLite: 17.8 of a batch's 80 pages of
-- log at 10 webhooks went to this table). Only tails something still
-- queues behind are carried over; the others were the prune's to delete.
CREATE TABLE delivery_tails_by_subject (
    subject_key TEXT NOT NULL,
    integration_id BIGINT NOT NULL,
    tail_id BIGINT NOT NULL,
    PRIMARY KEY (subject_key, integration_id)
);
INSERT INTO delivery_tails_by_subject (subject_key, integration_id, tail_id)
SELECT t.subject_key, t.integration_id, t.tail_id FROM delivery_tails t
JOIN deliveries d ON d.id = t.tail_id
WHERE d.state IN ('waiting', 'pending', 'leased');
DROP TABLE delivery_tails;
ALTER TABLE delivery_tails_by_subject RENAME TO delivery_tails;
ALTER INDEX delivery_tails_by_subject_pkey RENAME TO delivery_tails_pkey;
