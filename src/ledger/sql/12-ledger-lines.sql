-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Statement lines and the entry chain, written from the account's balance row alone.
--
-- An account's statement is its entries and its hold movements together. Every line gets, when it
-- is written:
--   line_seq            its 1-based position among ALL the account's lines (one sequence over both
--                       tables): commit order, because lines of an account are only written under
--                       its balance row lock (ledger_apply locks every row it touches first);
--   held_after_cents    the account's held balance right after it;
--   balance_after_cents the ledger balance (available + held) right after it (ledger_after_cents on
--                       a hold movement);
-- and an entry also:
--   account_seq         its 1-based position among the account's entries;
--   entry_hash          SHA-256 over its content and the previous entry's hash of the same account
--                       (a tamper-evident chain per account; ledger_entry_hash in 40-entry-chain.sql).
-- Everything the next line needs is on the balance row the command has locked and updates anyway
-- (entry_seq, line_seq, chain_hash, available and held), so writing a line reads no earlier line:
-- constant work per line however long the history. Each function below takes the row as it is
-- before the line and returns it as it is after; the caller writes the row back once per command
-- (per-item path) or once per batch (set paths, 25-ledger-apply-authorizations.sql and
-- 26-ledger-apply-moves.sql), and builds the line from the returned row, so both paths share
-- these rules.

-- The balance row after an entry of `p_amount` (signed: negative debits) with id `p_id`.
CREATE OR REPLACE FUNCTION ledger_entry_line(p_balance balances, p_id bigint, p_transfer_id text, p_amount bigint, p_at timestamptz)
RETURNS balances LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  p_balance.available_cents := p_balance.available_cents + p_amount;
  p_balance.version := p_balance.version + 1;
  p_balance.updated_at := p_at;
  p_balance.entry_seq := p_balance.entry_seq + 1;
  p_balance.line_seq := p_balance.line_seq + 1;
  p_balance.chain_hash := ledger_entry_hash(p_balance.chain_hash, p_id, p_balance.account_id, p_transfer_id, p_amount,
    p_balance.currency, p_at, p_balance.entry_seq, p_balance.available_cents + p_balance.held_cents);
  RETURN p_balance;
END;
$$;

-- The entry row whose line `ledger_entry_line` just added to `p_after` (the row it returned).
CREATE OR REPLACE FUNCTION ledger_entry_row(p_after balances, p_id bigint, p_transfer_id text, p_amount bigint, p_at timestamptz)
RETURNS ledger_entries LANGUAGE sql STABLE AS $$
  SELECT ROW(p_id, p_transfer_id, p_after.account_id, p_amount, p_after.currency, p_at, p_after.entry_seq,
             p_after.available_cents + p_after.held_cents, p_after.chain_hash, p_after.line_seq, p_after.held_cents)::ledger_entries
$$;

-- The balance row after placing (p_amount > 0) or releasing (p_amount < 0) part of a hold: available
-- and held move in opposite directions, the ledger balance stays.
CREATE OR REPLACE FUNCTION ledger_hold_line(p_balance balances, p_amount bigint, p_at timestamptz)
RETURNS balances LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  p_balance.available_cents := p_balance.available_cents - p_amount;
  p_balance.held_cents := p_balance.held_cents + p_amount;
  p_balance.version := p_balance.version + 1;
  p_balance.updated_at := p_at;
  p_balance.line_seq := p_balance.line_seq + 1;
  RETURN p_balance;
END;
$$;

-- The hold movement row whose line `ledger_hold_line` just added to `p_after`.
CREATE OR REPLACE FUNCTION ledger_hold_row(p_after balances, p_id bigint, p_payment_id text, p_amount bigint, p_at timestamptz)
RETURNS hold_movements LANGUAGE sql STABLE AS $$
  SELECT ROW(p_id, p_after.account_id, p_payment_id, CASE WHEN p_amount > 0 THEN 'HELD' ELSE 'RELEASED' END, abs(p_amount),
             p_at, p_after.line_seq, p_after.available_cents + p_after.held_cents, p_after.held_cents)::hold_movements
$$;

-- Writes balance rows back (as ledger_entry_line / ledger_hold_line left them). The caller holds
-- their locks. (Functions that run statements are plpgsql throughout: plpgsql keeps their plans
-- for the session, a LANGUAGE sql function that cannot be inlined is planned again on every call.)
-- The plan is the generic one: with the array as a parameter, a custom plan (which PostgreSQL
-- otherwise keeps choosing, the array's length being known) was planned again on every call,
-- about as long as the update itself (pg_stat_statements with track_planning, docs/write-path.md).
CREATE OR REPLACE FUNCTION ledger_write_balances(p_rows balances[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  UPDATE balances b SET available_cents = r.available_cents, held_cents = r.held_cents, version = r.version,
      updated_at = r.updated_at, entry_seq = r.entry_seq, line_seq = r.line_seq, chain_hash = r.chain_hash,
      payment_seq = r.payment_seq
    FROM unnest(p_rows) r WHERE b.account_id = r.account_id;
END;
$$;

-- Writes one balance row back (the per-item path's form: cheaper than the array's for one row).
CREATE OR REPLACE FUNCTION ledger_write_balance(p_row balances) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE balances SET available_cents = p_row.available_cents, held_cents = p_row.held_cents, version = p_row.version,
      updated_at = p_row.updated_at, entry_seq = p_row.entry_seq, line_seq = p_row.line_seq, chain_hash = p_row.chain_hash,
      payment_seq = p_row.payment_seq
    WHERE account_id = p_row.account_id;
END;
$$;

-- Double entry on rows held in memory (per-item path): moves `p_amount` from `p_from`'s available
-- balance to `p_to`'s and writes the debit and the credit; returns both rows as they are after
-- (ARRAY[from, to]) for the caller to write back. The caller holds both rows locked and has checked
-- the refusals (10-ledger-helpers.sql). The currency is the accounts' (a command refuses any other).
CREATE OR REPLACE FUNCTION ledger_entry_pair(p_from balances, p_to balances, p_transfer_id text, p_amount bigint, p_at timestamptz)
RETURNS balances[] LANGUAGE plpgsql AS $$
DECLARE
  v_from_id bigint := nextval('ledger_entries_id_seq');
  v_to_id bigint := nextval('ledger_entries_id_seq');
BEGIN
  p_from := ledger_entry_line(p_from, v_from_id, p_transfer_id, -p_amount, p_at);
  p_to := ledger_entry_line(p_to, v_to_id, p_transfer_id, p_amount, p_at);
  INSERT INTO ledger_entries SELECT * FROM unnest(ARRAY[ledger_entry_row(p_from, v_from_id, p_transfer_id, -p_amount, p_at),
                                                       ledger_entry_row(p_to, v_to_id, p_transfer_id, p_amount, p_at)]);
  RETURN ARRAY[p_from, p_to];
END;
$$;

-- Double entry (per-item path) on rows read here: ledger_entry_pair, both rows written back.
CREATE OR REPLACE FUNCTION ledger_move(p_transfer_id text, p_from text, p_to text, p_amount bigint, p_currency text, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_from balances;
  v_to balances;
  v_rows balances[];
BEGIN
  SELECT * INTO STRICT v_from FROM balances WHERE account_id = p_from;
  SELECT * INTO STRICT v_to FROM balances WHERE account_id = p_to;
  v_rows := ledger_entry_pair(v_from, v_to, p_transfer_id, p_amount, p_at);
  PERFORM ledger_write_balance(v_rows[1]);
  PERFORM ledger_write_balance(v_rows[2]);
END;
$$;

-- Places (p_amount > 0) or releases (p_amount < 0) part of a hold on a payer row held in memory
-- (per-item path): writes the movement and returns the row after it, for the caller to write back
-- once with the command's other changes. Nothing for 0.
CREATE OR REPLACE FUNCTION ledger_hold_movement(p_row balances, p_payment_id text, p_amount bigint, p_at timestamptz)
RETURNS balances LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_amount = 0 THEN RETURN p_row; END IF;
  v_id := nextval('hold_movements_id_seq');
  p_row := ledger_hold_line(p_row, p_amount, p_at);
  INSERT INTO hold_movements SELECT * FROM unnest(ARRAY[ledger_hold_row(p_row, v_id, p_payment_id, p_amount, p_at)]);
  RETURN p_row;
END;
$$;

-- ledger_hold_movement on the payer's row read here, written back at once (per-item path).
CREATE OR REPLACE FUNCTION ledger_hold(p_payment_id text, p_account_id text, p_amount bigint, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_row balances;
BEGIN
  IF p_amount = 0 THEN RETURN; END IF;
  SELECT * INTO STRICT v_row FROM balances WHERE account_id = p_account_id;
  PERFORM ledger_write_balance(ledger_hold_movement(v_row, p_payment_id, p_amount, p_at));
END;
$$;

-- Records a payment step (per-item path): its position in the payer's and in the payee's sequence
-- of payment steps (balances.payment_seq, under both rows' locks) is what WatchPayments resumes from.
-- A split payment (p_payee NULL) gives the step to each of its payees instead (ledger_split_steps).
CREATE OR REPLACE FUNCTION ledger_transition(p_payment_id text, p_status text, p_amount bigint, p_at timestamptz,
    p_payer text, p_payee text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_payer_seq bigint;
  v_payee_seq bigint;
  v_id bigint;
BEGIN
  UPDATE balances SET payment_seq = payment_seq + 1 WHERE account_id = p_payer RETURNING payment_seq INTO v_payer_seq;
  UPDATE balances SET payment_seq = payment_seq + 1 WHERE account_id = p_payee RETURNING payment_seq INTO v_payee_seq;
  INSERT INTO payment_transitions (payment_id, status, amount_cents, created_at, payer_account_id, payee_account_id, payer_seq, payee_seq)
    VALUES (p_payment_id, p_status, p_amount, p_at, p_payer, p_payee, v_payer_seq, v_payee_seq)
    RETURNING id INTO v_id;
  IF p_payee IS NULL THEN PERFORM ledger_split_steps(p_payment_id, v_id); END IF;
END;
$$;

-- The per-item commands' last write (payer and payee rows held in memory, both locked): the
-- payment's step `p_status` at the next position of each side's payment steps, then both rows
-- written back once. ledger_transition above does the same for rows that are not in memory.
CREATE OR REPLACE FUNCTION ledger_write_step(p_payer balances, p_payee balances, p_payment_id text, p_status text,
    p_amount bigint, p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  p_payer.payment_seq := p_payer.payment_seq + 1;
  p_payee.payment_seq := p_payee.payment_seq + 1;
  INSERT INTO payment_transitions (payment_id, status, amount_cents, created_at, payer_account_id, payee_account_id, payer_seq, payee_seq)
    VALUES (p_payment_id, p_status, p_amount, p_at, p_payer.account_id, p_payee.account_id, p_payer.payment_seq, p_payee.payment_seq);
  PERFORM ledger_write_balance(p_payer);
  PERFORM ledger_write_balance(p_payee);
END;
$$;

-- The step `p_transition_id` of split payment `p_payment_id` as each of its payees sees it: the
-- next position of the payee's payment steps (balances.payment_seq; the caller holds the lock and
-- has written back any copy of the row it keeps).
CREATE OR REPLACE FUNCTION ledger_split_steps(p_payment_id text, p_transition_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  WITH stepped AS (
    UPDATE balances b SET payment_seq = b.payment_seq + 1
      FROM payment_splits l WHERE l.payment_id = p_payment_id AND b.account_id = l.payee_account_id
      RETURNING b.account_id, b.payment_seq)
  INSERT INTO payment_split_steps (transition_id, payee_account_id, payee_seq)
    SELECT p_transition_id, account_id, payment_seq FROM stepped;
END;
$$;
