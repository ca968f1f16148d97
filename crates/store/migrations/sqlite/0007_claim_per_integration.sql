-- Claims scan each integration's due deliveries on their own, so a long
-- backlog of one integration whose lane is full is never read past.
DROP INDEX deliveries_first_due;
DROP INDEX deliveries_retry_due;
CREATE INDEX deliveries_first_due ON deliveries(integration_id, next_at, id) WHERE state = 'pending' AND attempts = 0;
CREATE INDEX deliveries_retry_due ON deliveries(integration_id, next_at, id) WHERE state = 'pending' AND attempts > 0;
