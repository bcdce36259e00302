-- A login token issued by delegation (POST /auth/login/delegated) names the
-- service account that asked for it, so that deactivating or archiving
-- that service account revokes the tokens it obtained, in the same
-- transaction, as deactivating a user revokes their own. '' for every
-- other token. The previous binary runs on this schema: it never writes
-- the column and never issues delegated tokens.

-- +goose Up
ALTER TABLE token ADD COLUMN delegated_by TEXT NOT NULL DEFAULT '';
CREATE INDEX token_delegated_by ON token (delegated_by) WHERE delegated_by <> '';

-- +goose Down
DROP INDEX token_delegated_by;
ALTER TABLE token DROP COLUMN delegated_by;
