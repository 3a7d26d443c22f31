-- 0003: the local web chat (adapters/console), the platform `npm start` shows when
-- no Slack or Discord credentials are set. Slack and Discord keep their own
-- channels, people and messages; the console has no remote to keep them, so they
-- live here and a restart loses nothing. The console adapter seeds `general`,
-- `support` and four demo people on first use (it owns that data, not this file).
-- Every row is scoped by tenant, like everything a chat platform hands us.

CREATE TABLE console_people (
  tenant       text NOT NULL,
  id           text NOT NULL,
  display_name text NOT NULL,
  -- Group names as `groupsOf` returns them (Slack user groups, Discord roles).
  groups       text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, id)
);

CREATE TABLE console_channels (
  tenant     text NOT NULL,
  -- `general`, or `@bob` for bob's direct messages.
  id         text NOT NULL,
  -- The person whose DM channel this is; NULL for a shared channel.
  dm_of      text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, id),
  FOREIGN KEY (tenant, dm_of) REFERENCES console_people (tenant, id)
);

CREATE TABLE console_messages (
  -- Also the message's part of its ref (`console:<channel>:<id>`) and its order.
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant          text NOT NULL,
  channel         text NOT NULL,
  -- The message this one replies to in a thread; NULL for a top-level message.
  parent_id       bigint REFERENCES console_messages (id),
  kind            text NOT NULL CHECK (kind IN ('card', 'text')),
  -- A ReviewCard for `card`, a Notice for `text` (src/chat/port.ts), verbatim.
  content         jsonb NOT NULL,
  -- `signoff` for the bot, else a console_people id.
  author          text NOT NULL,
  -- The sender's key: the same key twice posts once (RELIABILITY contract 2).
  idempotency_key text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- Set when a message is deleted (to rehearse RELIABILITY 59); the row stays so its key still dedupes.
  deleted_at      timestamptz,
  UNIQUE (tenant, idempotency_key),
  FOREIGN KEY (tenant, channel) REFERENCES console_channels (tenant, id)
);
-- The page loads the newest messages of a tenant.
CREATE INDEX console_messages_by_tenant ON console_messages (tenant, id);
