-- 0001: the engine's durable state. A run is a row holding its XState snapshot;
-- every committed event is appended to run_events (the audit log and the replay
-- source); invoked steps and declared effects are jobs; `after` timers are
-- timers. Workers claim jobs and timers by due_at with FOR UPDATE SKIP LOCKED,
-- so the partial indexes below are what every poll reads.

CREATE TABLE runs (
  id            text PRIMARY KEY,
  flow          text NOT NULL,
  flow_version  text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'waiting', 'done', 'failed', 'cancelled', 'parked')),
  status_reason text,
  -- The XState persisted snapshot: the only state of a run the engine needs.
  snapshot      jsonb NOT NULL,
  input         jsonb NOT NULL,
  output        jsonb,
  -- Deduplicates starts: a provider event id, a Slack event_id, (schedule, slot).
  trigger_key   text UNIQUE,
  -- Who and what started the run: { source, actor, channel }.
  trigger       jsonb NOT NULL DEFAULT '{}',
  -- Fencing token: every write is conditional on the version it read.
  version       integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_flow_status ON runs (flow, status);

-- Append-only. seq is the run version the row was written at, so the rows of
-- one run are totally ordered and a run's timeline is one index range.
CREATE TABLE run_events (
  run_id       text NOT NULL,
  seq          integer NOT NULL,
  -- 'event' rows are fed to the machine (replayable); the rest are notes.
  kind         text NOT NULL,
  type         text NOT NULL,
  event        jsonb,
  actor        text,
  state_before jsonb,
  state_after  jsonb,
  dedupe_key   text,
  at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);
CREATE UNIQUE INDEX run_events_dedupe ON run_events (run_id, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE jobs (
  -- The idempotency key, stable across retries: <run>:<child or effect>:<seq>.
  key          text PRIMARY KEY,
  run_id       text NOT NULL,
  flow         text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('step', 'effect')),
  name         text NOT NULL,
  child_id     text,
  input        jsonb,
  status       text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  -- Leases that expired while running: a worker died holding this job.
  recoveries   integer NOT NULL DEFAULT 0,
  -- How long one attempt may hold the job: the step's timeout plus a margin.
  lease_ms     integer NOT NULL,
  -- When the job may be claimed: run_at while queued, the lease expiry while running.
  due_at       timestamptz NOT NULL,
  lease_owner  text,
  last_error   jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_open_by_run ON jobs (run_id) WHERE status IN ('queued', 'running');

CREATE TABLE timers (
  run_id      text NOT NULL,
  -- XState's id for the delayed event (xstate.after.<delay>.<state>, or a sendId).
  send_id     text NOT NULL,
  event       jsonb NOT NULL,
  fire_at     timestamptz NOT NULL,
  -- fire_at until claimed, then the claim's lease expiry.
  due_at      timestamptz NOT NULL,
  lease_owner text,
  PRIMARY KEY (run_id, send_id)
);
CREATE INDEX timers_due ON timers (due_at);

-- Every inbound delivery (chat interaction, webhook, event) by its provider id,
-- so a redelivery is recognised across processes.
CREATE TABLE inbox (
  source         text NOT NULL,
  key            text NOT NULL,
  run_id         text,
  payload_sha256 text,
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, key)
);
