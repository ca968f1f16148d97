-- Invitations: a one-time link that lets a person set their console
-- password (also how an admin resets a forgotten one). The link's token is
-- kept hashed; one per person, so a new invitation voids the old.
CREATE TABLE invites (
    person_id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
