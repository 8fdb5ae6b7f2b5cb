-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- The per-account entry chain: its hash, and the backfills of databases from before the chain,
-- the statement lines and the heads on the balance rows. Lines are written by 12-ledger-lines.sql.

-- The hash of one entry: the one definition, used by the trigger, the backfill and verification.
-- created_at enters as epoch microseconds, so the session's time zone and DateStyle cannot change it.
CREATE OR REPLACE FUNCTION ledger_entry_hash(p_prev_hash text, p_id bigint, p_account_id text, p_transfer_id text,
    p_amount_cents bigint, p_currency text, p_created_at timestamptz, p_account_seq bigint, p_balance_after_cents bigint)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws('|', coalesce(p_prev_hash, ''), p_id, p_account_id, p_transfer_id,
    p_amount_cents, p_currency, (extract(epoch FROM p_created_at) * 1000000)::bigint, p_account_seq,
    p_balance_after_cents), 'UTF8')), 'hex')
$$;

-- The chain and the statement lines are written by 12-ledger-lines.sql from the balance row (the
-- row triggers that read the previous lines of both tables for every inserted row are gone).
DROP TRIGGER IF EXISTS ledger_entries_chain ON ledger_entries;
DROP TRIGGER IF EXISTS hold_movements_line ON hold_movements;
DROP FUNCTION IF EXISTS ledger_entry_chain();
DROP FUNCTION IF EXISTS ledger_hold_line();

-- Entries written before the chain existed (databases migrated from before 0005) are chained once,
-- in id order per account, on the migrate that brings the database past 0007; a no-op later. The append-only trigger is lifted for
-- exactly this update, inside the migrate's own statement.
DO $$
DECLARE
  v_row record;
  v_prev ledger_entries%ROWTYPE;
  v_account text := NULL;
BEGIN
  -- Only on the first migrate past 0007 (balance rows without heads): later, rows without a hash
  -- can only come from a writer outside ledger_apply (the naive benchmark script), never renumbered.
  IF NOT EXISTS (SELECT 1 FROM balances WHERE entry_seq IS NULL) THEN RETURN; END IF;
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

-- Lines written before line numbers existed (databases migrated from before 0006) are numbered
-- once, per account, in the order the statement showed them until then (time, hold movements before
-- entries at one instant, then the entry's sequence or the movement's id), with the balances right
-- after each; a no-op on every later migrate. It runs after the chain's backfill above, whose
-- running balances it reads. The append-only triggers are lifted for exactly these updates.
DO $$
DECLARE
  r record;
  v_account text := NULL;
  v_seq bigint;
  v_ledger bigint;
  v_held bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM balances WHERE entry_seq IS NULL) THEN RETURN; END IF;
  IF NOT EXISTS (SELECT 1 FROM ledger_entries WHERE line_seq IS NULL)
     AND NOT EXISTS (SELECT 1 FROM hold_movements WHERE line_seq IS NULL) THEN
    RETURN;
  END IF;
  ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only;
  ALTER TABLE hold_movements DISABLE TRIGGER hold_movements_append_only;
  FOR r IN
    SELECT 1 AS rank, e.id, e.account_id, e.created_at, e.account_seq AS ord, e.balance_after_cents AS ledger_after,
           0::bigint AS held_delta
      FROM ledger_entries e
    UNION ALL
    SELECT 0, h.id, h.account_id, h.created_at, h.id, NULL,
           CASE WHEN h.kind = 'HELD' THEN h.amount_cents ELSE -h.amount_cents END
      FROM hold_movements h
    ORDER BY account_id, created_at, rank, ord
  LOOP
    IF v_account IS DISTINCT FROM r.account_id THEN
      v_account := r.account_id;
      v_seq := 0;
      v_ledger := 0;
      v_held := 0;
    END IF;
    v_seq := v_seq + 1;
    v_held := v_held + r.held_delta;
    IF r.rank = 1 THEN
      v_ledger := r.ledger_after;
      UPDATE ledger_entries SET line_seq = v_seq, held_after_cents = v_held WHERE id = r.id;
    ELSE
      UPDATE hold_movements SET line_seq = v_seq, ledger_after_cents = v_ledger, held_after_cents = v_held WHERE id = r.id;
    END IF;
  END LOOP;
  ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only;
  ALTER TABLE hold_movements ENABLE TRIGGER hold_movements_append_only;
END;
$$;

-- The head of every account's history on its balance row (migration 0007 added the columns with
-- NULL for existing rows): the last entry's sequence and hash, the last line's number, the last
-- payment step's position. Runs after the two backfills above, whose results it reads; a no-op once
-- every row has its head.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM balances WHERE entry_seq IS NULL OR line_seq IS NULL OR payment_seq IS NULL) THEN RETURN; END IF;
  UPDATE balances b SET
      entry_seq = coalesce((SELECT max(e.account_seq) FROM ledger_entries e WHERE e.account_id = b.account_id), 0),
      chain_hash = (SELECT e.entry_hash FROM ledger_entries e WHERE e.account_id = b.account_id ORDER BY e.account_seq DESC LIMIT 1),
      line_seq = greatest(coalesce((SELECT max(e.line_seq) FROM ledger_entries e WHERE e.account_id = b.account_id), 0),
                          coalesce((SELECT max(h.line_seq) FROM hold_movements h WHERE h.account_id = b.account_id), 0)),
      payment_seq = greatest(coalesce((SELECT max(t.payer_seq) FROM payment_transitions t WHERE t.payer_account_id = b.account_id), 0),
                             coalesce((SELECT max(t.payee_seq) FROM payment_transitions t WHERE t.payee_account_id = b.account_id), 0))
    WHERE entry_seq IS NULL OR line_seq IS NULL OR payment_seq IS NULL;
END;
$$;
