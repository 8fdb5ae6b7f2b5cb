-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Wakes the watch streams (src/ledger/change-feed.ts) of every service instance when an account's
-- entries, hold movements or payment transitions change. NOTIFY is delivered at commit and only if the transaction commits;
-- PostgreSQL folds identical notifications of one transaction into one, so a batch of payments
-- sends one per touched account. The payload only names what changed ("a:<account>" for entries
-- and hold movements, the two sources of an account's statement; "p:<account>" for payment
-- transitions): watchers read the rows themselves, from the position they reached,
-- so a lost notification delays a watcher (until its poll) but never loses a change.
CREATE OR REPLACE FUNCTION ledger_notify_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ledger_changes', 'a:' || NEW.account_id);
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_notify_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ledger_changes', 'p:' || NEW.payer_account_id);
  PERFORM pg_notify('ledger_changes', 'p:' || NEW.payee_account_id);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS ledger_entries_notify ON ledger_entries;
CREATE TRIGGER ledger_entries_notify AFTER INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_notify_entry();

-- Payment watchers follow the accounts' payment transitions: a new payment (its first transition,
-- declines included), a capture, void, expiry or refund.
DROP TRIGGER IF EXISTS payments_notify ON payments;
DROP TRIGGER IF EXISTS payment_transitions_notify ON payment_transitions;
CREATE TRIGGER payment_transitions_notify AFTER INSERT ON payment_transitions
  FOR EACH ROW EXECUTE FUNCTION ledger_notify_payment();

-- A hold moves money between available and held without an entry; WatchAccount streams it too.
DROP TRIGGER IF EXISTS hold_movements_notify ON hold_movements;
CREATE TRIGGER hold_movements_notify AFTER INSERT ON hold_movements
  FOR EACH ROW EXECUTE FUNCTION ledger_notify_entry();
