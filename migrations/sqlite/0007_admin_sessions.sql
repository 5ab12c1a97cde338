-- Admin console sessions (opa_ tokens, stored hashed), opened by signing in with an admin key.
CREATE TABLE admin_sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
