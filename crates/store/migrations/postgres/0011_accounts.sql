-- Console sessions: the cookie carries a random token, kept here hashed, so
-- that a session ends when its row goes (logout, a password change, a
-- deactivated person) and a copied cookie stops working.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_person ON sessions(person_id);
-- Failed sign-ins, per account and per client address, for throttling.
CREATE TABLE sign_in_failures (
    scope TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_scope ON sign_in_failures(scope, at);
