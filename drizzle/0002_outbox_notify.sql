-- Wakes the outbox relay when outbox rows are committed: NOTIFY is delivered at commit, and only if
-- the transaction commits. One notification per statement (not per row): the relay reads batches.
-- Every writer is covered, including ones that bypass src/outbox/outbox-writer.ts.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('outbox_inserted', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
