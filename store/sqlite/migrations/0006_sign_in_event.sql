-- Sign-in events (issue 11): every sign-in, and every failed one with a
-- credential of the organisation, for the console's security log and its
-- list of sessions (token_id links a success to the login token it
-- issued). Anyone can cause a failure, so the store keeps a bounded number
-- per organisation and outcome, dropping the oldest (RecordSignIn). Same
-- conventions as 0001_init.sql; the previous binary ignores this table.

-- +goose Up
CREATE TABLE sign_in_event (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES org (id),
    user_id       TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    credential_id TEXT    NOT NULL,
    token_id      TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    via           TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    client_ip     TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX sign_in_event_org_id_outcome_created_at ON sign_in_event (org_id, outcome, created_at);
CREATE INDEX sign_in_event_org_id_created_at ON sign_in_event (org_id, created_at);
CREATE INDEX sign_in_event_token_id ON sign_in_event (token_id);
CREATE INDEX token_user_id_kind_expires_at ON token (user_id, kind, expires_at);

-- +goose Down
DROP INDEX token_user_id_kind_expires_at;
DROP TABLE sign_in_event;
