-- Recovery (issue 10): recovery keys, archived credentials, and the
-- one-time codes of recovery, reset links and credential codes. Same
-- conventions as 0001_init.sql. The previous binary runs on this schema:
-- the new columns have defaults it never needs to write, and one_time_code
-- is a new table. (It would offer a recovery key in allowCredentials,
-- where no assertion of it verifies, and could activate an archived
-- credential: roll replicas forward promptly.)

-- +goose Up

-- A RecoveryKey's private key as the client encrypted it; '' otherwise.
ALTER TABLE credential ADD COLUMN encrypted_private_key TEXT NOT NULL DEFAULT '';
-- Archived credentials are inactive for good: retired by a recovery, or
-- replaced by a newer recovery key.
ALTER TABLE credential ADD COLUMN is_archived INTEGER NOT NULL DEFAULT 0;

-- At most one code per user and purpose: a new one replaces the old, so
-- the table never holds more than users x purposes rows. Only the code's
-- SHA-256 is kept; codes looked up by it (reset links, credential codes)
-- carry 125 random bits. issued_by names who issued a reset link ('' for
-- the operator, or other purposes).
CREATE TABLE one_time_code (
    purpose    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES user_account (id),
    org_id     TEXT    NOT NULL REFERENCES org (id),
    code_hash  BLOB    NOT NULL,
    issued_by  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (purpose, user_id)
);
CREATE UNIQUE INDEX one_time_code_purpose_code_hash ON one_time_code (purpose, code_hash);
CREATE INDEX one_time_code_expires_at ON one_time_code (expires_at);

-- +goose Down
DROP TABLE one_time_code;
ALTER TABLE credential DROP COLUMN is_archived;
ALTER TABLE credential DROP COLUMN encrypted_private_key;
