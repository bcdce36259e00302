-- Sign-in events are numbered in the order they are recorded, per
-- organisation and outcome (issue 12), so that keeping the newest
-- MaxSignInsKept is a range delete of what falls behind, not a scan of
-- every kept event on each sign-in (which made every login cost a read of
-- up to ten thousand rows once the log was full). Existing events are
-- numbered in their created_at order.
-- The previous binary runs on this schema: it inserts with ordinal 0 and
-- trims by created_at as before; events it records are not counted here,
-- and its own trim removes them.

-- +goose Up
ALTER TABLE sign_in_event ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
UPDATE sign_in_event SET ordinal = r.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY org_id, outcome ORDER BY created_at, id) AS n FROM sign_in_event) AS r
WHERE sign_in_event.id = r.id;
CREATE INDEX sign_in_event_org_id_outcome_ordinal ON sign_in_event (org_id, outcome, ordinal);

-- +goose Down
DROP INDEX sign_in_event_org_id_outcome_ordinal;
ALTER TABLE sign_in_event DROP COLUMN ordinal;
