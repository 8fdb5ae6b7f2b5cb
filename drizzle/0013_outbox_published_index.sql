-- Outbox retention (src/outbox/outbox-retention.ts) finds the rows published before its cutoff
-- here instead of reading the whole outbox every round. On a large outbox, build it beforehand
-- without blocking writers (CREATE INDEX CONCURRENTLY with this name and definition): this
-- migration then finds it and does nothing.
CREATE INDEX IF NOT EXISTS "outbox_published_idx" ON "outbox" USING btree ("published_at") WHERE "outbox"."published_at" IS NOT NULL;
