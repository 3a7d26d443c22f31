-- 0020: what the Discord adapter shares across bot processes.
--
-- Interaction ids are deduplicated in `inbox` (0001; sources 'discord:interaction'
-- and 'discord:click', the latter with its payload, 0007). discord_posts is the
-- post ledger: an idempotency key and the message it became, so a retried job
-- returns the first message (Discord's own nonce + enforce_nonce covers only a
-- few minutes). discord_identifies counts gateway logins of every process, so a
-- crash-looping bot backs off far below Discord's 1000 a day (RELIABILITY 18).
CREATE TABLE discord_posts (
  key        text PRIMARY KEY,
  channel    text NOT NULL,
  message_id text,
  attempts   integer NOT NULL DEFAULT 1,
  first_at   timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discord_identifies (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX discord_identifies_at ON discord_identifies (at);
