-- A delivery id (a click's or a dialog's) deduplicates one person's repeats of
-- one action. Keyed per review alone, a delivery id reused by someone else (a
-- client bug, a replayed id) silently swallowed that person's decision (issue
-- 16). Keyed per review and actor, each person's delivery is their own.
DROP INDEX review_audit_delivery;
CREATE UNIQUE INDEX review_audit_delivery ON review_audit (review_id, actor, delivery_id) WHERE delivery_id IS NOT NULL;
