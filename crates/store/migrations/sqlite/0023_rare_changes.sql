-- How many batches of rare changes have committed: PostgreSQL's processes
-- check it before using the subscriptions they kept (see its migration of
-- the same number). One process owns a SQLite database and knows its own
-- changes, so nothing counts here; the table keeps the schemas one.
CREATE TABLE rare_changes (
    id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
INSERT INTO rare_changes (id, n) VALUES (1, 0);
