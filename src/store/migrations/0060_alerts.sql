-- 0060: alerts to the operator's channel (SIGNOFF_ALERT_CHANNEL; src/ops/alerts.ts).
--
-- An operator must hear once when something needs them (runs failed or parked, the
-- model's quota or a run's budget spent, a tool host's circuit open, a burst of webhook
-- dead letters) and hear again when it is over, however many bot processes share the
-- database. One row is one alert: `cause` names what is wrong at the granularity that
-- keeps a channel readable (all failed runs of one flow at one step are one cause, so a
-- burst of 200 failures posts once). The partial unique index makes opening a cause a
-- claim: while a row for it is open, no process can open another. The post and the
-- "resolved" reply are delivered from the row under a lease, with idempotency keys
-- (`alert:<id>`, `alert:<id>:resolved`) the adapters' post ledgers honour, so a crash
-- between posting and recording the ref cannot post twice.
CREATE TABLE alerts (
  -- integer: one row per episode of a cause, never near 2^31; and it reads back as a number.
  id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- e.g. run-failed:<flow>:<step>, run-parked:<flow>, model-quota, budget:<flow>,
  -- circuit:<host>, dead-letters:<source>
  cause          text NOT NULL,
  kind           text NOT NULL,
  -- What the message was built from (flow, step, latest run, reason): the resolved reply reads it.
  subject        jsonb NOT NULL,
  -- Our sentence, and the words someone else wrote (a step's error, a sender's bad field), shown quoted.
  message        text NOT NULL,
  quote          text,
  -- How many runs, deliveries or processes the cause covers now, and at most while open.
  count          integer NOT NULL,
  peak_count     integer NOT NULL,
  opened_at      timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  cleared_at     timestamptz,
  -- SIGNOFF_ALERT_CHANNEL when the alert opened; NULL: it was only logged.
  channel        text,
  posted_ref     text,
  posted_at      timestamptz,
  resolved_ref   text,
  resolved_at    timestamptz,
  -- Delivery claim, as for jobs (0001): the holder posts; after a failure lease_until is the back-off.
  lease_owner    text,
  lease_until    timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  -- Set when the platform refused for good (channel gone): delivery stops, the log says why.
  delivery_error text
);
CREATE UNIQUE INDEX alerts_open_cause ON alerts (cause) WHERE cleared_at IS NULL;
-- What the delivery loop polls: an open alert not yet posted, or a cleared one not yet resolved.
CREATE INDEX alerts_undelivered ON alerts (id)
  WHERE channel IS NOT NULL AND delivery_error IS NULL
    AND ((posted_ref IS NULL AND cleared_at IS NULL) OR (posted_ref IS NOT NULL AND cleared_at IS NOT NULL AND resolved_ref IS NULL));

-- Facts only one process knows (its in-memory circuit breakers): each process's sweep
-- writes what it sees and deletes what it no longer sees; a row not refreshed for a few
-- sweeps belongs to a process that is gone and no longer counts.
CREATE TABLE alert_observations (
  cause    text NOT NULL,
  observer text NOT NULL,
  detail   jsonb NOT NULL DEFAULT '{}',
  seen_at  timestamptz NOT NULL,
  PRIMARY KEY (cause, observer)
);

-- The sweep reads runs that need a person and pending budget reviews every few seconds:
-- these partial indexes hold only those rows, so the read stays small however many runs are done.
CREATE INDEX runs_needing_attention ON runs (flow, updated_at) WHERE status IN ('failed', 'parked');
CREATE INDEX reviews_pending_budget ON reviews (flow) WHERE name = '$budget' AND status = 'pending';
