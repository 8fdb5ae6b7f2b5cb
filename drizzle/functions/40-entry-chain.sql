-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- The per-account entry chain. Every ledger entry gets, in the transaction that inserts it:
--   account_seq          its 1-based position in the account's history (the statement's order);
--   balance_after_cents  the account's balance right after it (running balance; before = after - amount);
--   entry_hash           SHA-256 (hex) over its content and the previous entry's hash of the same account.
-- A BEFORE INSERT row trigger sets them, so every writer is covered (deposits in TypeScript, the batch
-- function ledger_authorize_payments, any later lifecycle function) without repeating the rule.
-- Writers of an account are already serialised by its balance row lock, taken before entries are
-- inserted, so "the previous entry" is well defined; rows of one multi-row INSERT are visible to the
-- trigger of the next row (PostgreSQL: row-level BEFORE triggers see rows processed earlier in the
-- same command). A writer that forgot the lock would collide on the unique (account_id, account_seq)
-- index rather than fork the chain silently.

-- The hash of one entry: the one definition, used by the trigger, the backfill and verification.
-- created_at enters as epoch microseconds, so the session's time zone and DateStyle cannot change it.
CREATE OR REPLACE FUNCTION ledger_entry_hash(p_prev_hash text, p_id bigint, p_account_id text, p_transfer_id text,
    p_amount_cents bigint, p_currency text, p_created_at timestamptz, p_account_seq bigint, p_balance_after_cents bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws('|', coalesce(p_prev_hash, ''), p_id, p_account_id, p_transfer_id,
    p_amount_cents, p_currency, (extract(epoch FROM p_created_at) * 1000000)::bigint, p_account_seq,
    p_balance_after_cents), 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION ledger_entry_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_prev ledger_entries%ROWTYPE;
BEGIN
  SELECT * INTO v_prev FROM ledger_entries
    WHERE account_id = NEW.account_id AND account_seq IS NOT NULL
    ORDER BY account_seq DESC LIMIT 1;
  NEW.account_seq := coalesce(v_prev.account_seq, 0) + 1;
  NEW.balance_after_cents := coalesce(v_prev.balance_after_cents, 0) + NEW.amount_cents;
  NEW.entry_hash := ledger_entry_hash(v_prev.entry_hash, NEW.id, NEW.account_id, NEW.transfer_id, NEW.amount_cents,
    NEW.currency, NEW.created_at, NEW.account_seq, NEW.balance_after_cents);
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS ledger_entries_chain ON ledger_entries;
CREATE TRIGGER ledger_entries_chain BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_chain();

-- Entries written before the chain existed (databases migrated from before 0005) are chained once,
-- in id order per account; a no-op on every later migrate. The append-only trigger is lifted for
-- exactly this update, inside the migrate's own statement.
DO $$
DECLARE
  v_row record;
  v_prev ledger_entries%ROWTYPE;
  v_account text := NULL;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger_entries WHERE entry_hash IS NULL) THEN RETURN; END IF;
  ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only;
  FOR v_row IN SELECT * FROM ledger_entries ORDER BY account_id, id LOOP
    IF v_account IS DISTINCT FROM v_row.account_id THEN
      v_prev := NULL;
      v_account := v_row.account_id;
    END IF;
    v_row.account_seq := coalesce(v_prev.account_seq, 0) + 1;
    v_row.balance_after_cents := coalesce(v_prev.balance_after_cents, 0) + v_row.amount_cents;
    v_row.entry_hash := ledger_entry_hash(v_prev.entry_hash, v_row.id, v_row.account_id, v_row.transfer_id,
      v_row.amount_cents, v_row.currency, v_row.created_at, v_row.account_seq, v_row.balance_after_cents);
    UPDATE ledger_entries SET account_seq = v_row.account_seq, balance_after_cents = v_row.balance_after_cents,
      entry_hash = v_row.entry_hash WHERE id = v_row.id;
    v_prev.account_seq := v_row.account_seq;
    v_prev.balance_after_cents := v_row.balance_after_cents;
    v_prev.entry_hash := v_row.entry_hash;
  END LOOP;
  ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only;
END;
$$;
