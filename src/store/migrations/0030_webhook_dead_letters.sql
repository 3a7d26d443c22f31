-- 0030: webhook deliveries that were genuine but could not start their flow.
--
-- A webhook whose signature verified but whose body is not JSON, or whose event
-- fails the flow's input schema, is answered 400 and kept here (RELIABILITY 26):
-- the SHA-256 of the raw body (the body itself may carry personal data and is not
-- kept), the parsed event when there was one (what a replay maps again once the
-- flow is fixed), and the reason. One row per delivery: a sender's retry adds none.
-- A replay records the run it started; the inbox row (0001) still dedupes the delivery.
CREATE TABLE webhook_dead_letters (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  delivery_key  text NOT NULL,
  event         text,
  flow          text NOT NULL DEFAULT '',  -- '' when no flow was reached (bad JSON)
  body_sha256   text NOT NULL,
  payload       jsonb,
  reason        text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  replayed_at   timestamptz,
  replay_run_id text,
  UNIQUE (source, delivery_key, flow)
);
CREATE INDEX webhook_dead_letters_open ON webhook_dead_letters (received_at) WHERE replayed_at IS NULL;
