-- Sealed challenges (issue 12): login and action challenges are no longer
-- stored when they are handed out; their state travels sealed in the
-- challenge identifier. What keeps them single-use is this table: the
-- first attempt to finish one, successful or not, records its id here in
-- the finishing transaction, and a second record of the same id is refused
-- by the primary key. A row is needed only until the challenge expires;
-- DeleteExpired sweeps it then.
-- The previous binary runs on this schema: it neither reads nor writes it.

-- +goose Up
CREATE TABLE spent_challenge (
    id         TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_challenge_expires_at ON spent_challenge (expires_at);

-- +goose Down
DROP TABLE spent_challenge;
