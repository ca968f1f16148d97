-- An endpoint's open circuit, shared by every process of a cluster: while
-- open_until is ahead, no process claims the integration's deliveries.
CREATE TABLE circuits (
    integration_id BIGINT PRIMARY KEY,
    open_until BIGINT NOT NULL
);
