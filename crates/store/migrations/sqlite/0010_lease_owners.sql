-- Which process holds a lease, and the processes sharing the database: when
-- one dies, the others give its leases back within seconds instead of
-- waiting for them to expire.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
CREATE TABLE nodes (
    token TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
