-- Columns the list filters of the hosted product's clients need
-- (/incident/list creator_ids, closer_ids; /alert/list alert_severity),
-- filled from each row's document.
ALTER TABLE incidents ADD COLUMN creator_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN closer_id BIGINT NOT NULL DEFAULT 0;
UPDATE incidents SET
    creator_id = COALESCE((doc::jsonb #>> '{creator,person_id}')::bigint, 0),
    closer_id = COALESCE((doc::jsonb #>> '{closer,person_id}')::bigint, 0);
CREATE INDEX incidents_creator ON incidents(creator_id) WHERE creator_id > 0;

ALTER TABLE alerts ADD COLUMN severity TEXT NOT NULL DEFAULT '';
UPDATE alerts SET severity = COALESCE(doc::jsonb ->> 'alert_severity', '');
