-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Wakes the watch streams (src/ledger/change-feed.ts) of every service instance when accounts'
-- statement lines or payment steps change. ledger_apply calls it once per batch with every account
-- whose balance row it locked (the only accounts it can have written lines or steps for). NOTIFY is
-- delivered at commit and only if the transaction commits. A payload names several keys separated
-- by spaces ("a:<account>" for statement lines, "p:<account>" for payment steps; account ids have
-- no spaces) and stays under PostgreSQL's 8,000-byte limit by splitting the list. Watchers read the
-- rows themselves from the position they reached, so a key named without a change costs one read
-- and a lost notification delays a watcher (until its poll) but never loses a change.
CREATE OR REPLACE FUNCTION ledger_notify_changes(p_accounts text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_payload text := '';
  v_account text;
BEGIN
  FOREACH v_account IN ARRAY p_accounts LOOP
    IF length(v_payload) > 7000 THEN
      PERFORM pg_notify('ledger_changes', v_payload);
      v_payload := '';
    END IF;
    v_payload := v_payload || CASE WHEN v_payload = '' THEN '' ELSE ' ' END || 'a:' || v_account || ' p:' || v_account;
  END LOOP;
  IF v_payload <> '' THEN PERFORM pg_notify('ledger_changes', v_payload); END IF;
END;
$$;

-- The row triggers that notified per inserted entry, hold movement and transition (replaced by the
-- call above, once per batch).
DROP TRIGGER IF EXISTS ledger_entries_notify ON ledger_entries;
DROP TRIGGER IF EXISTS hold_movements_notify ON hold_movements;
DROP TRIGGER IF EXISTS payments_notify ON payments;
DROP TRIGGER IF EXISTS payment_transitions_notify ON payment_transitions;
DROP FUNCTION IF EXISTS ledger_notify_entry();
DROP FUNCTION IF EXISTS ledger_notify_payment();
