-- token_user_id (user_id) is the leading column of
-- token_user_id_kind_expires_at (user_id, kind, expires_at), so every query
-- that used it (revoking or listing a user's tokens) is served by the wider
-- one, and each login wrote both: one B-tree less to change per token.

-- +goose Up
DROP INDEX token_user_id;

-- +goose Down
CREATE INDEX token_user_id ON token (user_id);
