-- A user action keeps the sentence the person approved (the summary
-- /auth/action/init showed before the prompt), and the audit entry of its
-- change copies it, instead of describing the request again when the
-- change is made: a sentence that depends on time or state (a token's end
-- date, a permission's holders) would otherwise be filed as something the
-- person never read. '' for actions written by the previous binary, which
-- runs on this schema without writing the column; their audit entries are
-- described at change time as before.

-- +goose Up
ALTER TABLE user_action ADD COLUMN summary TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE user_action DROP COLUMN summary;
