-- A deactivated person cannot sign in and has no keys; their history stays.
ALTER TABLE people ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
