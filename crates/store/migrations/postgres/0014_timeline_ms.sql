-- Timeline records keep Unix milliseconds, as the feed answers them (the
-- hosted product's clients read milliseconds); earlier ones kept seconds.
UPDATE timeline SET created_at = created_at * 1000 WHERE created_at < 100000000000;
