-- 0045: the newest version seen of each record a webhook source reports (RELIABILITY 25).
--
-- Salesforce retries outbound messages "independent of their order in the queue", so an
-- older notification about a record can arrive after a newer one. Each notification's
-- sObject carries the record's SystemModstamp (or LastModifiedDate). A delivery starts its
-- runs only when that version is newer than the one kept here, and moves it forward in the
-- same transaction that claims the delivery in inbox and starts the runs; an older or equal
-- one is acknowledged and starts nothing. One row per source and record id.
CREATE TABLE webhook_record_versions (
  source       text NOT NULL,
  record_id    text NOT NULL,
  version_at   timestamptz NOT NULL,
  delivery_key text NOT NULL,         -- the delivery that brought this version
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, record_id)
);
