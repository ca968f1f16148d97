-- Deliveries that ended without being pushed successfully: failed (retries
-- used up, a final 4xx) and skipped (the integration was disabled). Small,
-- and what a replay and the integration's health read.
CREATE INDEX deliveries_unsent ON deliveries(integration_id, created_at) WHERE state IN ('failed', 'skipped');
