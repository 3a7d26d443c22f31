-- 0006: the journal of unsafe tool calls (RELIABILITY contract 5). A row is
-- written before the call and closed after it with the tool's answer. A later
-- attempt of the step (its result was never committed) takes a `done` row's
-- answer instead of calling again; a row still `sent` (the process died
-- mid-call) or `ambiguous` (timed out after sending) means nobody knows
-- whether it happened, so the next attempt asks a person instead of calling
-- blindly. An operator's retry acknowledges the open rows.
CREATE TABLE tool_calls (
  job_key    text NOT NULL,
  attempt    integer NOT NULL,
  tool       text NOT NULL,
  status     text NOT NULL CHECK (status IN ('sent', 'done', 'failed', 'ambiguous', 'acknowledged')),
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at   timestamptz,
  -- The tool's answer, for a `done` call.
  output     jsonb,
  PRIMARY KEY (job_key, attempt)
);
CREATE INDEX tool_calls_open ON tool_calls (job_key) WHERE status IN ('sent', 'ambiguous');
