-- User actions and the audit log: SQLite's 0002_user_action.sql, same
-- conventions as 0001_init.sql. Both are new tables, so the previous binary
-- runs unchanged on this schema.

-- +goose Up

-- A verified user action, redeemable once: used_at is set by the signed
-- change that consumes it, and DeleteExpired removes it once expired, used
-- or not. identity_id is a user id or a token id and token_id the bearer
-- token it was signed under (tokens are swept when they expire), so neither
-- carries a foreign key.
CREATE TABLE user_action (
    id                 TEXT   NOT NULL PRIMARY KEY,
    org_id             TEXT   NOT NULL REFERENCES org (id),
    user_id            TEXT   NOT NULL REFERENCES user_account (id),
    identity_id        TEXT   NOT NULL,
    token_id           TEXT   NOT NULL,
    credential_id      TEXT   NOT NULL,
    method             TEXT   NOT NULL,
    path               TEXT   NOT NULL,
    payload            BYTEA  NOT NULL,
    client_data        BYTEA  NOT NULL,
    authenticator_data BYTEA  NOT NULL,
    signature          BYTEA  NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used_at            BIGINT
);
CREATE INDEX user_action_expires_at ON user_action (expires_at);

-- One executed signed change, kept forever. It copies what it needs
-- (username, credential, the signed request) instead of referring to rows
-- that may change or go: action_id outlives its swept user_action row, and
-- user_id may be '' when no user made the change.
CREATE TABLE audit_entry (
    id                    TEXT   NOT NULL PRIMARY KEY,
    org_id                TEXT   NOT NULL REFERENCES org (id),
    user_id               TEXT   NOT NULL,
    username              TEXT   NOT NULL,
    action_id             TEXT   NOT NULL,
    credential_id         TEXT   NOT NULL,
    credential_kind       TEXT   NOT NULL,
    credential_public_key TEXT   NOT NULL,
    method                TEXT   NOT NULL,
    path                  TEXT   NOT NULL,
    payload               BYTEA  NOT NULL,
    client_data           BYTEA  NOT NULL,
    authenticator_data    BYTEA  NOT NULL,
    signature             BYTEA  NOT NULL,
    summary               TEXT   NOT NULL,
    created_at            BIGINT NOT NULL,
    seq                   BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX audit_entry_org_id_created_at ON audit_entry (org_id, created_at, seq);
CREATE INDEX audit_entry_org_id_user_id_created_at ON audit_entry (org_id, user_id, created_at, seq);

-- +goose Down
DROP TABLE audit_entry;
DROP TABLE user_action;
