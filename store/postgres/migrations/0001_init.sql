-- Initial schema: the tables and columns of the SQLite dialect's
-- 0001_init.sql, same names, types adapted. Conventions:
--   * tables and columns are singular snake_case, as in SQLite;
--   * times are BIGINT unix milliseconds in UTC (*_at), NULL when unset,
--     as SQLite's INTEGER milliseconds;
--   * booleans are BOOLEAN (SQLite: INTEGER 0 or 1);
--   * byte strings are BYTEA (SQLite: BLOB);
--   * string lists are JSON arrays in TEXT (operations, transports);
--   * username_key is the username lower-cased in Go (strings.ToLower), so
--     uniqueness per org and lookups are case-insensitive the same way in
--     every dialect, independent of database collations;
--   * seq, on the tables whose lists are ordered by insertion within a
--     created_at, is the insertion order SQLite's rowid gives; the only
--     column SQLite has no namesake for, and never written by the store.

-- +goose Up
CREATE TABLE org (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_account (
    id                 TEXT    NOT NULL PRIMARY KEY,
    org_id             TEXT    NOT NULL REFERENCES org (id),
    username           TEXT    NOT NULL,
    username_key       TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    user_handle        TEXT    NOT NULL,
    is_active          BOOLEAN NOT NULL,
    is_registered      BOOLEAN NOT NULL,
    is_service_account BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL,
    seq                BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX user_account_org_id_username_key ON user_account (org_id, username_key);
CREATE UNIQUE INDEX user_account_user_handle ON user_account (user_handle);

-- One pending code per user; only its SHA-256 is stored.
CREATE TABLE registration_code (
    user_id    TEXT   NOT NULL PRIMARY KEY REFERENCES user_account (id),
    code_hash  BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX registration_code_expires_at ON registration_code (expires_at);

CREATE TABLE credential (
    id               TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL REFERENCES org (id),
    user_id          TEXT    NOT NULL REFERENCES user_account (id),
    kind             TEXT    NOT NULL,
    cred_id          TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    public_key       BYTEA   NOT NULL,
    attestation_type TEXT    NOT NULL,
    aaguid           BYTEA   NOT NULL,
    transports       TEXT    NOT NULL,
    sign_count       BIGINT  NOT NULL, -- a uint32: INTEGER would overflow
    user_present     BOOLEAN NOT NULL,
    user_verified    BOOLEAN NOT NULL,
    backup_eligible  BOOLEAN NOT NULL,
    backup_state     BOOLEAN NOT NULL,
    origin           TEXT    NOT NULL,
    rp_id            TEXT    NOT NULL,
    is_active        BOOLEAN NOT NULL,
    created_at       BIGINT  NOT NULL,
    last_login_at    BIGINT,
    last_sign_at     BIGINT,
    seq              BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX credential_cred_id ON credential (cred_id);
CREATE INDEX credential_user_id_created_at ON credential (user_id, created_at, seq);

-- Ceremony state. org_id, user_id and token_id are '' when not applicable
-- (a usernameless login has no user yet), so they carry no foreign key.
CREATE TABLE challenge (
    id         TEXT   NOT NULL PRIMARY KEY,
    purpose    TEXT   NOT NULL,
    challenge  TEXT   NOT NULL,
    org_id     TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    token_id   TEXT   NOT NULL,
    data       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX challenge_expires_at ON challenge (expires_at);

-- Issued bearer tokens (by jti); the token string itself is never stored.
CREATE TABLE token (
    id         TEXT   NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    org_id     TEXT   NOT NULL REFERENCES org (id),
    user_id    TEXT   NOT NULL REFERENCES user_account (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX token_expires_at ON token (expires_at);
CREATE INDEX token_user_id ON token (user_id);

CREATE TABLE permission (
    id           TEXT    NOT NULL PRIMARY KEY,
    org_id       TEXT    NOT NULL REFERENCES org (id),
    name         TEXT    NOT NULL,
    operations   TEXT    NOT NULL,
    is_immutable BOOLEAN NOT NULL,
    is_archived  BOOLEAN NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    seq          BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX permission_org_id ON permission (org_id);

-- identity_id is a user id or a token id, hence no foreign key.
CREATE TABLE assignment (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES org (id),
    permission_id TEXT    NOT NULL REFERENCES permission (id),
    identity_id   TEXT    NOT NULL,
    is_immutable  BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    seq           BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX assignment_identity_id_permission_id ON assignment (identity_id, permission_id);
CREATE INDEX assignment_permission_id ON assignment (permission_id);

-- Server secrets (signing and cookie keys), written once by EnsureSecret.
CREATE TABLE secret (
    name  TEXT  NOT NULL PRIMARY KEY,
    value BYTEA NOT NULL
);

-- +goose Down
DROP TABLE secret;
DROP TABLE assignment;
DROP TABLE permission;
DROP TABLE token;
DROP TABLE challenge;
DROP TABLE credential;
DROP TABLE registration_code;
DROP TABLE user_account;
DROP TABLE org;
