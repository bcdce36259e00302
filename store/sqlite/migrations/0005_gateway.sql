-- The gateway (issue 9): an audit entry names the upstream a signed
-- request went to and what it answered. Same conventions as 0001_init.sql.
-- The previous binary runs on this schema: both columns have defaults.

-- +goose Up
ALTER TABLE audit_entry ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
-- The upstream's HTTP status, "unreachable" or "timeout"; '' until it
-- answers, and for countersign's own routes.
ALTER TABLE audit_entry ADD COLUMN upstream_status TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_entry DROP COLUMN upstream_status;
ALTER TABLE audit_entry DROP COLUMN upstream;
