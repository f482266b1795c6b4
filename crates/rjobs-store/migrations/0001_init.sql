-- Foundation: applications and the tokens that reach them. Times are unix milliseconds bound from
-- the injected Clock (SQL never calls now()); `version` is the compare-and-set token.

CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    name            TEXT{{collate_c}} NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    creation_date   BIGINT NOT NULL,
    last_updated    BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE admin_tokens (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    creation_date   BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name            TEXT{{collate_c}} NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL,          -- JSON array of strings
    status          TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    expiration_date BIGINT,
    token_hash      TEXT NOT NULL UNIQUE,
    creation_date   BIGINT NOT NULL,
    last_updated    BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX api_tokens_app ON api_tokens(application_id, name);
