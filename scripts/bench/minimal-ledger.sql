-- The reference for what this machine allows: the smallest SQL ledger that still moves money by
-- double entry (in the spirit of pgr0ss/pgledger, and of the "one-file SQL ledger" the issues
-- compare with). One function applies a batch of transfers in one transaction: the batch's
-- balance rows locked in account-id order, then per transfer a funds-checked debit, a credit and
-- two entries. No idempotency keys, payments, states, steps, events, audit or hash chain: every
-- feature of the real ledger_apply is absent, so no ledger with them can be cheaper per payment.
-- Installed by npm run bench:function (function-bench.ts) next to the real ledger, fed the same
-- items (bench_batch_items, batch-items.sql) by minimal-ledger.pgbench.
CREATE TABLE IF NOT EXISTS minimal_balances (
  account_id text PRIMARY KEY,
  balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
  version bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS minimal_entries (
  id bigserial PRIMARY KEY,
  transfer_id text NOT NULL,
  account_id text NOT NULL REFERENCES minimal_balances (account_id),
  amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS minimal_entries_account_idx ON minimal_entries (account_id, id);

-- The number of transfers applied (a payer without the funds is skipped).
CREATE OR REPLACE FUNCTION minimal_transfers(p_items jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_item jsonb;
  v_amount bigint;
  v_applied integer := 0;
BEGIN
  PERFORM 1 FROM minimal_balances
    WHERE account_id = ANY (ARRAY(SELECT i->>'payerAccountId' FROM jsonb_array_elements(p_items) i
                                  UNION SELECT i->>'payeeAccountId' FROM jsonb_array_elements(p_items) i))
    ORDER BY account_id FOR UPDATE;
  FOR v_item IN SELECT * FROM jsonb_array_elements(p_items) LOOP
    v_amount := (v_item->>'amountCents')::bigint;
    UPDATE minimal_balances SET balance_cents = balance_cents - v_amount, version = version + 1
      WHERE account_id = v_item->>'payerAccountId' AND balance_cents >= v_amount;
    CONTINUE WHEN NOT FOUND;
    UPDATE minimal_balances SET balance_cents = balance_cents + v_amount, version = version + 1
      WHERE account_id = v_item->>'payeeAccountId';
    INSERT INTO minimal_entries (transfer_id, account_id, amount_cents)
      VALUES (v_item->>'paymentId', v_item->>'payerAccountId', -v_amount), (v_item->>'paymentId', v_item->>'payeeAccountId', v_amount);
    v_applied := v_applied + 1;
  END LOOP;
  RETURN v_applied;
END;
$$;

-- The bench's accounts with the real ledger's balances.
INSERT INTO minimal_balances (account_id, balance_cents)
  SELECT account_id, available_cents FROM balances WHERE NOT allow_negative
  ON CONFLICT (account_id) DO UPDATE SET balance_cents = excluded.balance_cents;
