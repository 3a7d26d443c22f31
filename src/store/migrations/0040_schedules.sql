-- 0040: schedules (src/triggers/schedules.ts, RELIABILITY 38) and the weekly digest's reads.
--
-- schedule_fires is the claim of one slot of one schedule: every bot process
-- ticks, and the one whose INSERT … ON CONFLICT DO NOTHING returns a row starts
-- the slot's run in the same transaction, so a slot fires once across all
-- processes, and a crash between claim and start leaves neither.
CREATE TABLE schedule_fires (
  -- `<flow>/<n>` (or the trigger's `name`): stable while the flow file keeps the trigger.
  schedule_id text NOT NULL,
  -- The slot as an instant (the cron's wall-clock time in its zone, resolved).
  slot_at     timestamptz NOT NULL,
  run_id      text NOT NULL,
  -- Fired after its time by catch-up (the process was down when it came due).
  is_late     boolean NOT NULL DEFAULT false,
  fired_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_id, slot_at)
);

-- The digest (src/store/digest.ts) reads one workspace and channel over two
-- weeks; each section is one range scan through one of these (model spend goes
-- from the channel's runs to model_calls_run of 0004). `npm run bench` prints the plans.
CREATE INDEX runs_tenant_channel_created ON runs ((trigger->>'tenant'), (trigger->>'channel'), created_at);
CREATE INDEX reviews_decided ON reviews (tenant, channel, decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX reviews_pending ON reviews (tenant, channel, created_at) WHERE status = 'pending';
CREATE INDEX review_audit_tenant_at ON review_audit (tenant, at);
-- The audit has no channel: its rows of one channel are found by joining the channel's review ids.
CREATE INDEX reviews_tenant_channel_id ON reviews (tenant, channel, id);
