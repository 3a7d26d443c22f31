-- 0004: what model steps cost, and durable waits that are not failures.
--
-- model_calls is the ledger of every call a model step made (offline ones
-- too): tokens, price, outcome. A run's cost is a sum over it (the review card
-- shows it; the run budget is checked against it), and the number of calls a
-- step made is a count over it, which bounds retries however many attempts,
-- fallbacks and processes are involved (RELIABILITY 72).
CREATE TABLE model_calls (
  id            bigserial PRIMARY KEY,
  run_id        text NOT NULL,
  job_key       text NOT NULL,
  attempt       integer NOT NULL,
  -- Order of the call within the attempt (fallbacks and the validation retry).
  call_no       integer NOT NULL,
  model         text NOT NULL,
  offline       boolean NOT NULL DEFAULT false,
  -- ok | invalid (answer failed validation) | error (no usable answer)
  outcome       text NOT NULL CHECK (outcome IN ('ok', 'invalid', 'error')),
  error         text,
  input_tokens  integer NOT NULL DEFAULT 0,
  output_tokens integer NOT NULL DEFAULT 0,
  cost_usd      numeric(14, 6) NOT NULL DEFAULT 0,
  at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_key, attempt, call_no)
);
CREATE INDEX model_calls_run ON model_calls (run_id);

-- A 429's Retry-After reschedules a job without using up an attempt; this
-- counts those waits so a provider that never recovers still ends the step.
ALTER TABLE jobs ADD COLUMN deferrals integer NOT NULL DEFAULT 0;

-- `/signoff list`: a tenant's newest runs.
CREATE INDEX runs_tenant_created ON runs ((trigger->>'tenant'), created_at DESC, id DESC);

-- A budget review (a run spent its budget) pauses a step job, not a review
-- job: its decision re-queues the job named here instead of `job_key`.
ALTER TABLE reviews ADD COLUMN resume_job text;
