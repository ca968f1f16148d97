-- Order per (integration, subject) is kept by state: only the oldest
-- unfinished delivery of a key is 'pending' (or 'leased'); the ones behind it
-- are 'waiting' and become 'pending' when it settles. Claims then read heads
-- only, however long the queue behind them.
UPDATE deliveries SET state = 'waiting'
WHERE state = 'pending' AND EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.integration_id = deliveries.integration_id
      AND e.subject_key = deliveries.subject_key
      AND e.state IN ('pending', 'leased')
      AND e.id < deliveries.id);

DROP INDEX deliveries_unfinished;
CREATE INDEX deliveries_open ON deliveries(integration_id, subject_key, id) WHERE state IN ('waiting', 'pending', 'leased');
CREATE INDEX deliveries_waiting ON deliveries(integration_id, subject_key, id) WHERE state = 'waiting';
DROP INDEX deliveries_fifo;
