-- The open deliveries' index with the condition its queries say, in the
-- same words as SQLite's (see its migration of the same number, where a
-- list after IN cost a temporary b-tree on every write).
DROP INDEX deliveries_open;
CREATE INDEX deliveries_open ON deliveries(integration_id, id)
    WHERE state = 'waiting' OR state = 'pending' OR state = 'leased';
