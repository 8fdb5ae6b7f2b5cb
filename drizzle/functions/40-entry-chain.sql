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

-- Statement lines. An account's statement is its entries and its hold movements together (a hold
-- moves money between available and held without an entry). Both kinds of row get, here:
--   line_seq           their 1-based position among ALL the account's lines, one sequence over both
--                      tables. It is commit order, whatever the clocks of the instances that wrote
--                      them say: lines of an account are written under its balance row lock. Statement
--                      pages and WatchAccount resume tokens are positions in it (src/ledger/history.ts).
--   held_after_cents   the account's held balance right after the line (an entry carries it over);
--   ledger_after_cents the ledger balance right after it (hold movements; an entry has it as
--                      balance_after_cents): so every line states both balances, and available =
--                      ledger - held, without summing anything at read time.
-- Each trigger reads the newest row of each table for the account (two probes of the
-- (account_id, line_seq) and (account_id, account_seq) indexes). In the set-based batch path
-- (25-ledger-apply-authorizations.sql) one statement inserts entries and hold movements through
-- two data-modifying CTEs; each row still sees the rows inserted before it by either CTE, so the
-- numbering has no gap or repeat (an account with both kinds in one batch gets its hold lines
-- after its entry lines of that batch: the entries CTE runs first).
CREATE OR REPLACE FUNCTION ledger_entry_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_prev ledger_entries%ROWTYPE;
  v_hold_seq bigint;
  v_held bigint;
BEGIN
  SELECT * INTO v_prev FROM ledger_entries
    WHERE account_id = NEW.account_id AND account_seq IS NOT NULL
    ORDER BY account_seq DESC LIMIT 1;
  SELECT line_seq, held_after_cents INTO v_hold_seq, v_held FROM hold_movements
    WHERE account_id = NEW.account_id AND line_seq IS NOT NULL
    ORDER BY line_seq DESC LIMIT 1;
  NEW.account_seq := coalesce(v_prev.account_seq, 0) + 1;
  NEW.balance_after_cents := coalesce(v_prev.balance_after_cents, 0) + NEW.amount_cents;
  NEW.entry_hash := ledger_entry_hash(v_prev.entry_hash, NEW.id, NEW.account_id, NEW.transfer_id, NEW.amount_cents,
    NEW.currency, NEW.created_at, NEW.account_seq, NEW.balance_after_cents);
  NEW.line_seq := greatest(coalesce(v_prev.line_seq, 0), coalesce(v_hold_seq, 0)) + 1;
  NEW.held_after_cents := coalesce(v_held, 0);
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS ledger_entries_chain ON ledger_entries;
CREATE TRIGGER ledger_entries_chain BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_chain();

CREATE OR REPLACE FUNCTION ledger_hold_line() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_prev hold_movements%ROWTYPE;
  v_entry_seq bigint;
  v_ledger bigint;
BEGIN
  SELECT * INTO v_prev FROM hold_movements
    WHERE account_id = NEW.account_id AND line_seq IS NOT NULL
    ORDER BY line_seq DESC LIMIT 1;
  SELECT line_seq, balance_after_cents INTO v_entry_seq, v_ledger FROM ledger_entries
    WHERE account_id = NEW.account_id AND account_seq IS NOT NULL
    ORDER BY account_seq DESC LIMIT 1;
  NEW.line_seq := greatest(coalesce(v_prev.line_seq, 0), coalesce(v_entry_seq, 0)) + 1;
  NEW.ledger_after_cents := coalesce(v_ledger, 0);
  NEW.held_after_cents := coalesce(v_prev.held_after_cents, 0)
    + CASE WHEN NEW.kind = 'HELD' THEN NEW.amount_cents ELSE -NEW.amount_cents END;
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS hold_movements_line ON hold_movements;
CREATE TRIGGER hold_movements_line BEFORE INSERT ON hold_movements
  FOR EACH ROW EXECUTE FUNCTION ledger_hold_line();

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
