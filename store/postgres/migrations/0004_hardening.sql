-- Hardening (issue 8): explicit PAT scopes, a mismatch count on user
-- actions, a cap on open challenges per identity, the results of completed
-- registrations, and a row a health probe writes: SQLite's
-- 0004_hardening.sql, same conventions as 0001_init.sql. The previous
-- binary runs on this schema: every added column has a default and the new
-- tables are its own to ignore.

-- +goose Up

-- A PAT's scope is fixed at creation (spec §6). The default is the
-- fail-closed one: a token the previous binary inserts during a rolling
-- upgrade holds only what is assigned to it. Existing tokens keep what they
-- were created as: a PAT without any assignment was created without a
-- permission; service-account tokens hold their account's operations.
ALTER TABLE access_token ADD COLUMN scope TEXT NOT NULL DEFAULT 'AssignedOnly';
UPDATE access_token SET scope = 'AllUserOperations'
 WHERE kind = 'ServiceAccount'
    OR NOT EXISTS (SELECT 1 FROM assignment WHERE assignment.identity_id = access_token.id);

-- Attempts to use an action on a request it was not signed for; the
-- third spends it.
ALTER TABLE user_action ADD COLUMN mismatches INTEGER NOT NULL DEFAULT 0;

-- seq stands for SQLite's rowid: the cap evicts in insertion order.
ALTER TABLE challenge ADD COLUMN seq BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY;
CREATE INDEX challenge_user_id_token_id_purpose ON challenge (user_id, token_id, purpose, created_at, seq);

-- What a completed registration answered, kept while its temporary token
-- lives, so the same request sent again after a lost answer gets it again.
CREATE TABLE registration_result (
    ceremony_id   TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES user_account (id),
    credential_id TEXT    NOT NULL REFERENCES credential (id),
    request_hash  BYTEA   NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX registration_result_expires_at ON registration_result (expires_at);

-- One row, rewritten by every health probe: a write that must commit.
CREATE TABLE probe (
    id INTEGER NOT NULL PRIMARY KEY,
    at BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE probe;
DROP TABLE registration_result;
DROP INDEX challenge_user_id_token_id_purpose;
ALTER TABLE challenge DROP COLUMN seq;
ALTER TABLE user_action DROP COLUMN mismatches;
ALTER TABLE access_token DROP COLUMN scope;
