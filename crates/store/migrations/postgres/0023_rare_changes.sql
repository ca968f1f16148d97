-- How many batches of rare changes (people, keys, fields, webhooks…) have
-- committed, counted in the database: a process keeps the webhooks'
-- subscriptions between its batches only while the count has not moved,
-- which each batch checks as it begins, under the cluster's lock. The
-- change notifications alone could arrive after the next batch had begun.
CREATE TABLE rare_changes (
    id BIGINT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO rare_changes (id, n) VALUES (1, 0);
-- Fails the statement (and its transaction) with SQLSTATE DH001 when the
-- count is not `expected`.
CREATE FUNCTION dutyhook_rare_changes_are(expected BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT n FROM rare_changes WHERE id = 1) IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'rare changes were made since the subscriptions were read'
            USING ERRCODE = 'DH001';
    END IF;
    RETURN TRUE;
END
$$;
