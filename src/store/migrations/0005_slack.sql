-- 0005: what the Slack adapter must share across bot processes.
--
-- Events API deliveries are deduplicated in `inbox` (0001, source 'slack:event').
-- slack_posts is the post ledger: a post's idempotency key, and where it landed
-- once known, so a retried job returns the first message instead of posting
-- again; an attempt with no ts may have landed with its response lost, and is
-- looked up in the channel by its metadata before posting again (RELIABILITY 63).
-- slack_pace holds each channel's next free send slot, so several processes
-- together post about one message per second per channel (RELIABILITY 64).
CREATE TABLE slack_posts (
  key        text PRIMARY KEY,
  channel    text NOT NULL,
  ts         text,
  attempts   integer NOT NULL DEFAULT 1,
  first_at   timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE slack_pace (
  channel text PRIMARY KEY,
  next_at timestamptz NOT NULL
);
