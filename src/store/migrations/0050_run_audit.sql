-- 0050: the whole run is audited, not only its reviews (issue 15, part 6).
-- run_events was append-only by convention alone: anyone with the app's
-- grants could rewrite a run's history without a trace. Now, like
-- review_audit (0002), a trigger refuses UPDATE, DELETE and TRUNCATE for every
-- role, and each row carries a SHA-256 hash chained to the previous row of its
-- run (seq is already the run's own gapless sequence: its version), so an edit
-- made with the trigger disabled is still found by `verifyRunAudit`
-- (src/store/audit.ts; `signoff audit verify`).
--
-- The hash is computed here, in SQL, by the statement that writes the row, so
-- appending costs no extra query: the head of each chain is `runs.audit_head`,
-- set by the same UPDATE that moves the run's version. The same function
-- backfills the rows written before this migration. The verifier recomputes it
-- in TypeScript from the stored text, independently of this function.
--
-- tool_calls rows change status (sent -> done/failed/ambiguous -> acknowledged),
-- so they cannot be the record. The row that commits a step's result (and the
-- run.blocked / run.parked note of a step that stopped the run) carries
-- `step_call`: the step job's key (the idempotency key its tools receive), its
-- name, attempt, outcome, the SHA-256 of its input and the journaled tool
-- calls of that job as they stood at that moment; it is hashed with the row.
--
-- Backfill rewrites every existing run_events row once (one UPDATE per row,
-- under this migration's transaction): on a large database, expect the
-- migration to take about as long as a full table rewrite.

ALTER TABLE run_events ADD COLUMN step_call jsonb;
ALTER TABLE run_events ADD COLUMN prev_hash text;
ALTER TABLE run_events ADD COLUMN hash text;
-- The hash of the run's last run_events row ('' before the first). Nullable:
-- a run row written without events (seed data) has no chain.
ALTER TABLE runs ADD COLUMN audit_head text;

-- What is hashed, exactly (docs/operations.md "Audit" says the same):
--   sha256_hex( utf8( prev_hash || E'\n' || jsonb_build_array(
--     run_id, seq, kind, type, event, actor, state_before, state_after,
--     dedupe_key, step_call, at as 'YYYY-MM-DDTHH24:MI:SS.USZ' in UTC )::text ) )
-- jsonb prints canonically: object keys sorted (shorter first, then bytewise),
-- no duplicates, ', ' and ': ' separators, numbers as stored.
CREATE FUNCTION run_audit_hash(
  p_prev_hash text, p_run_id text, p_seq integer, p_kind text, p_type text, p_event jsonb, p_actor text,
  p_state_before jsonb, p_state_after jsonb, p_dedupe_key text, p_step_call jsonb, p_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(p_prev_hash || E'\n' || jsonb_build_array(
    p_run_id, p_seq, p_kind, p_type, p_event, p_actor, p_state_before, p_state_after, p_dedupe_key, p_step_call,
    to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text, 'UTF8')), 'hex')
$$;

DO $$
DECLARE
  e record;
  prev text := '';
  current_run text := NULL;
BEGIN
  FOR e IN SELECT * FROM run_events ORDER BY run_id, seq LOOP
    IF current_run IS DISTINCT FROM e.run_id THEN
      prev := '';
      current_run := e.run_id;
    END IF;
    UPDATE run_events
      SET prev_hash = prev,
          hash = run_audit_hash(prev, e.run_id, e.seq, e.kind, e.type, e.event, e.actor, e.state_before,
                                e.state_after, e.dedupe_key, e.step_call, e.at)
      WHERE run_id = e.run_id AND seq = e.seq
      RETURNING hash INTO prev;
  END LOOP;
END $$;

UPDATE runs SET audit_head = h.hash
FROM (SELECT DISTINCT ON (run_id) run_id, hash FROM run_events ORDER BY run_id, seq DESC) h
WHERE h.run_id = runs.id;

ALTER TABLE run_events ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE run_events ALTER COLUMN hash SET NOT NULL;

CREATE FUNCTION run_events_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- 42501 insufficient_privilege: reads as "permission denied" to any client.
  RAISE EXCEPTION 'permission denied: run_events is append-only' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER run_events_append_only BEFORE UPDATE OR DELETE ON run_events
  FOR EACH ROW EXECUTE FUNCTION run_events_is_append_only();
CREATE TRIGGER run_events_no_truncate BEFORE TRUNCATE ON run_events
  FOR EACH STATEMENT EXECUTE FUNCTION run_events_is_append_only();
