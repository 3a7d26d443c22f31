-- 0002: human review (DESIGN §5, RELIABILITY E). A review is requested by a
-- flow's `review` child, whose job waits (status 'waiting', never claimed)
-- until the review is decided; the decision re-queues it in the same
-- transaction, so the outcome reaches the run durably. Chat side effects of a
-- review (post the card, update it, thread replies, reminders, escalation,
-- expiry) are 'system' jobs: claimed, leased, retried and keyed like steps.

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('step', 'effect', 'review', 'system'));
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('queued', 'running', 'waiting', 'done', 'failed', 'cancelled'));

CREATE TABLE reviews (
  -- Random id: the handle buttons carry. It grants nothing; every click is re-checked.
  id               text PRIMARY KEY,
  run_id           text NOT NULL,
  flow             text NOT NULL,
  -- The review child's job: one review per invocation, and the hand-off of its outcome.
  job_key          text NOT NULL UNIQUE,
  -- The flow's review name (its policy is copied into `policy` when requested).
  name             text NOT NULL,
  tenant           text NOT NULL,
  platform         text NOT NULL,
  channel          text NOT NULL,
  requested_by     text NOT NULL,
  policy           jsonb NOT NULL,
  -- Title, fields, proposed action, cost: what the card shows besides the draft.
  request          jsonb NOT NULL,
  -- The editable draft ({ name: text }); an edit replaces it and bumps `version`.
  content          jsonb NOT NULL,
  content_sha256   text NOT NULL,
  version          integer NOT NULL DEFAULT 1,
  previous_content jsonb,
  last_editor      text,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
  -- Every approve/reject, bound to the version it was made on (policy.ts ReviewDecision).
  decisions        jsonb NOT NULL DEFAULT '[]',
  -- People a decider delegated to: they may decide as if listed in the policy.
  delegates        jsonb NOT NULL DEFAULT '[]',
  is_escalated     boolean NOT NULL DEFAULT false,
  reminders_sent   integer NOT NULL DEFAULT 0,
  expires_at       timestamptz,
  decided_at       timestamptz,
  -- The posted card, once posted (an opaque MessageRef).
  card_ref         text,
  -- Bumped by every write: a card render knows whether it is still current.
  seq              integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_run ON reviews (run_id);

-- The audit trail of every attempt, accepted or refused (RELIABILITY 45, 52, 60).
-- Append-only: a trigger refuses UPDATE and DELETE for every role, and each row
-- carries a hash chained to the previous row of its review, so an edit made with
-- the trigger disabled is still detected by verifyAuditChain().
CREATE TABLE review_audit (
  review_id      text NOT NULL,
  seq            integer NOT NULL,
  run_id         text NOT NULL,
  tenant         text NOT NULL,
  actor          text NOT NULL,
  -- request, approve, reject, edit, delegate, remind, escalate, expire, cancel, post.
  action         text NOT NULL,
  -- 'accepted', or 'denied:<code>' (self_approval, not_allowed, stale_version, …).
  outcome        text NOT NULL,
  version        integer NOT NULL,
  content_sha256 text NOT NULL,
  message_ref    text,
  -- The platform's delivery id: a redelivered click is recognised, not re-judged.
  delivery_id    text,
  detail         jsonb,
  at             timestamptz NOT NULL DEFAULT now(),
  prev_hash      text NOT NULL,
  hash           text NOT NULL,
  PRIMARY KEY (review_id, seq)
);
CREATE UNIQUE INDEX review_audit_delivery ON review_audit (review_id, delivery_id) WHERE delivery_id IS NOT NULL;
-- One counted approve or reject per person and version, enforced by the database too.
CREATE UNIQUE INDEX review_audit_one_vote ON review_audit (review_id, version, actor)
  WHERE outcome = 'accepted' AND action IN ('approve', 'reject');

CREATE FUNCTION review_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- 42501 insufficient_privilege: reads as "permission denied" to any client.
  RAISE EXCEPTION 'permission denied: review_audit is append-only' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit
  FOR EACH ROW EXECUTE FUNCTION review_audit_is_append_only();
CREATE TRIGGER review_audit_no_truncate BEFORE TRUNCATE ON review_audit
  FOR EACH STATEMENT EXECUTE FUNCTION review_audit_is_append_only();
