-- 0010: sign-in for the web chat beyond loopback (WEB_CHAT_AUTH=invite, docs/security.md).
-- `npm run web:invite -- alice` stores a one-time invite; opening its link trades it for a
-- session, whose cookie then names the acting person (never the request body). Only SHA-256
-- hashes of the tokens are stored: a copy of this table lets no one sign in.
-- (0008 and 0009 are left to work in flight elsewhere; numbers need not be contiguous.)

CREATE TABLE console_invites (
  -- hex SHA-256 of the token in the link.
  token_hash text PRIMARY KEY,
  tenant     text NOT NULL,
  person     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set by the one exchange that may use it; a second use finds it set and fails.
  used_at    timestamptz,
  FOREIGN KEY (tenant, person) REFERENCES console_people (tenant, id)
);

CREATE TABLE console_sessions (
  -- hex SHA-256 of the cookie value.
  token_hash text PRIMARY KEY,
  tenant     text NOT NULL,
  person     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  FOREIGN KEY (tenant, person) REFERENCES console_people (tenant, id)
);
