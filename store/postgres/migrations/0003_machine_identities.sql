-- Machine identities (personal access tokens, service accounts), user
-- management and permission management: SQLite's
-- 0003_machine_identities.sql, same conventions as 0001_init.sql.
-- The previous binary runs unchanged on this schema: every added column has
-- a default it never needs to write, access_token is a new table, and the
-- new unique index on permission names holds for what it wrote (one
-- full-admin permission per org).

-- +goose Up

-- '' for a user's own credential; an access token's id for the token's own
-- Key credential. No foreign key: '' refers to nothing.
ALTER TABLE credential ADD COLUMN token_id TEXT NOT NULL DEFAULT '';

ALTER TABLE user_account ADD COLUMN is_archived BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE user_account ADD COLUMN is_sso_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE user_account ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX user_account_org_id_created_at ON user_account (org_id, created_at, seq);

-- A personal access token's or a service account token's metadata; its
-- bearer row in token has the same id. id carries no foreign key to token
-- on purpose: DeleteExpired removes expired token rows, and the metadata
-- (like the token's Key credential) stays for the org to list.
CREATE TABLE access_token (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES org (id),
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES user_account (id),
    credential_id TEXT    NOT NULL REFERENCES credential (id),
    external_id   TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL,
    is_archived   BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    last_used_for TEXT    NOT NULL,
    seq           BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX access_token_org_id_created_at ON access_token (org_id, created_at, seq);
CREATE INDEX access_token_user_id_created_at ON access_token (user_id, created_at, seq);

-- Names are unique per org, archived permissions included (compared
-- exactly, case included: a deterministic collation's equality is
-- byte-wise).
CREATE UNIQUE INDEX permission_org_id_name ON permission (org_id, name);
CREATE INDEX permission_org_id_created_at ON permission (org_id, created_at, seq);

CREATE INDEX assignment_permission_id_created_at ON assignment (permission_id, created_at, seq);

-- +goose Down
DROP INDEX assignment_permission_id_created_at;
DROP INDEX permission_org_id_created_at;
DROP INDEX permission_org_id_name;
DROP TABLE access_token;
DROP INDEX user_account_org_id_created_at;
ALTER TABLE user_account DROP COLUMN external_id;
ALTER TABLE user_account DROP COLUMN is_sso_required;
ALTER TABLE user_account DROP COLUMN is_archived;
ALTER TABLE credential DROP COLUMN token_id;
