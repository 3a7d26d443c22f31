-- 0007: decision clicks recorded first, decided after the ack. A Slack
-- Approve click is acknowledged as soon as its inbox row (the click as
-- delivered, and where to answer) has committed; the decision is made right
-- after, and a click whose process died before deciding is replayed from here
-- by any process (RELIABILITY I1: nothing accepted is lost).
ALTER TABLE inbox ADD COLUMN payload jsonb;
ALTER TABLE inbox ADD COLUMN done_at timestamptz;
CREATE INDEX inbox_undecided ON inbox (received_at) WHERE payload IS NOT NULL AND done_at IS NULL;
