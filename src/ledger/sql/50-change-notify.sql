-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- No trigger sends NOTIFY any more: PostgreSQL serialises the commits of every transaction that
-- sent one (a lock held until its commit record is flushed), a queue in front of every money
-- transaction's commit. The service notifies once per committed batch, in a statement of its own
-- (src/ledger/change-notifier.ts): "ledger_changes" names the accounts whose statement lines and
-- payment steps changed (src/ledger/change-feed.ts), "outbox_inserted" wakes the relays.
DROP FUNCTION IF EXISTS ledger_notify_changes(text[]);
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
DROP TRIGGER IF EXISTS ledger_entries_notify ON ledger_entries;
DROP TRIGGER IF EXISTS hold_movements_notify ON hold_movements;
DROP TRIGGER IF EXISTS payments_notify ON payments;
DROP TRIGGER IF EXISTS payment_transitions_notify ON payment_transitions;
DROP FUNCTION IF EXISTS ledger_notify_entry();
DROP FUNCTION IF EXISTS ledger_notify_payment();
