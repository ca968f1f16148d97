-- Claims read only unfinished deliveries; keep their indexes small and
-- sorted so a claim is a range scan, however long the history.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_first_due ON deliveries(next_at, id) WHERE state = 'pending' AND attempts = 0;
CREATE INDEX deliveries_retry_due ON deliveries(next_at, id) WHERE state = 'pending' AND attempts > 0;
CREATE INDEX deliveries_unfinished ON deliveries(integration_id, subject_key, id) WHERE state IN ('pending', 'leased');
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE state = 'leased';
