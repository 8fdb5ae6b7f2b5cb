-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Building blocks of ledger_apply (30-ledger-apply.sql). Each one is used by several commands, so
-- every money rule below exists once.

-- int64 is the range of every money column. Arithmetic is checked in numeric first, so an amount
-- that would leave that range is refused with a reason instead of a database error.
CREATE OR REPLACE FUNCTION ledger_fits_int64(p_value numeric) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_value BETWEEN -9223372036854775808 AND 9223372036854775807
$$;

-- Why `p_balance` may not give `p_amount`, or NULL when it may. The funds rule: the available
-- balance (ledger - held) may go down to minus the account's overdraft limit; funding accounts
-- (allow_negative) have no floor but int64's.
CREATE OR REPLACE FUNCTION ledger_debit_refusal(p_balance balances, p_amount bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN NOT ledger_fits_int64(p_balance.available_cents::numeric - p_amount) THEN 'BALANCE_LIMIT_EXCEEDED'
    WHEN NOT p_balance.allow_negative
         AND p_balance.available_cents::numeric - p_amount < -p_balance.overdraft_limit_cents::numeric THEN 'INSUFFICIENT_FUNDS'
  END
$$;

-- Why `p_balance` may not receive `p_amount`, or NULL when it may: its available and its ledger
-- balance (available + held) must both stay within int64.
CREATE OR REPLACE FUNCTION ledger_credit_refusal(p_balance balances, p_amount bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN NOT ledger_fits_int64(p_balance.available_cents::numeric + p_balance.held_cents + p_amount) THEN 'BALANCE_LIMIT_EXCEEDED'
  END
$$;

-- The lines themselves (ledger_move, ledger_hold, the chain): 12-ledger-lines.sql.

-- A timestamp as JavaScript's Date.prototype.toISOString writes it.
CREATE OR REPLACE FUNCTION ledger_iso(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Appends one event envelope to the outbox. TypeScript chose the event id; the tests check every
-- envelope written here against its TypeBox schema (src/outbox/event-schemas.ts).
-- The envelope of an item's event (also written in sets by the set paths, 25- and 26-ledger-apply-*.sql).
CREATE OR REPLACE FUNCTION ledger_envelope(p_item jsonb, p_type text, p_aggregate_type text, p_aggregate_id text, p_payload jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('eventId', p_item->'eventId', 'type', p_type, 'schemaVersion', 1, 'occurredAt', p_item->'at',
    'aggregateType', p_aggregate_type, 'aggregateId', p_aggregate_id, 'payload', p_payload)
$$;

CREATE OR REPLACE FUNCTION ledger_emit(p_item jsonb, p_type text, p_aggregate_type text, p_aggregate_id text, p_payload jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent)
    VALUES (p_item->>'eventId', p_type, p_aggregate_type, p_aggregate_id,
            ledger_envelope(p_item, p_type, p_aggregate_type, p_aggregate_id, p_payload), p_item->>'traceparent');
END;
$$;

-- The stored form of PaymentRecord (src/ledger/records.ts; stored-json.ts tags bigint and Date):
-- the immutable payment and its current state. GetPayment reads it through here as well.
-- Index plans only, as ledger_apply's (30-ledger-apply.sql): reads call this once per listed
-- payment, outside ledger_apply, and its plan is kept for the session; planned from a small
-- table's statistics, a plan may scan the whole table for each payment (ledger_account_json's did,
-- for each listed account: test/ledger/sql-plans.test.ts).
CREATE OR REPLACE FUNCTION ledger_payment_json(p_payment_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
BEGIN
  RETURN (SELECT ledger_payment_record(p, s)
    -- A split payment (no payee of its own) lists its legs; other payments have no `splits` key.
    || CASE WHEN p.payee_account_id IS NULL THEN jsonb_build_object('splits', (
         SELECT jsonb_agg(jsonb_build_object('payeeAccountId', l.payee_account_id,
                  'amountCents', jsonb_build_object('$bigint', l.amount_cents::text),
                  'capturedCents', jsonb_build_object('$bigint', l.captured_cents::text),
                  'refundedCents', jsonb_build_object('$bigint', l.refunded_cents::text)) ORDER BY l.position)
           FROM payment_splits l WHERE l.payment_id = p.id))
       ELSE '{}'::jsonb END
  FROM payments p LEFT JOIN payment_states s ON s.payment_id = p.id
  WHERE p.id = p_payment_id);
END;
$$;

-- PaymentRecord of a payment that is not split, from its rows (`p_state` all NULL when it has no
-- state: a declined payment): ledger_payment_json's shape, which the set path
-- (26-ledger-apply-moves.sql) builds from the rows it holds in memory.
CREATE OR REPLACE FUNCTION ledger_payment_record(p payments, s payment_states) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('paymentId', p.id, 'status', coalesce(s.status, p.status), 'declineReason', p.decline_reason,
    'payerAccountId', p.payer_account_id, 'payeeAccountId', coalesce(p.payee_account_id, ''),
    'amountCents', jsonb_build_object('$bigint', p.amount_cents::text), 'currency', p.currency,
    'description', p.description, 'createdAt', jsonb_build_object('$date', ledger_iso(p.created_at)),
    'captureMethod', p.capture_method,
    'heldCents', jsonb_build_object('$bigint', coalesce(s.held_cents, 0)::text),
    'capturedCents', jsonb_build_object('$bigint', coalesce(s.captured_cents, 0)::text),
    'refundedCents', jsonb_build_object('$bigint', coalesce(s.refunded_cents, 0)::text),
    'holdExpiresAt', CASE WHEN p.hold_expires_at IS NULL THEN NULL
                          ELSE jsonb_build_object('$date', ledger_iso(p.hold_expires_at)) END,
    'metadata', p.metadata)
$$;

-- The outcome of an item whose idempotency key is live (claimed by `p_method` with request hash
-- `p_request_hash`, which stored `p_result`): that first result when this item is the same request,
-- else IDEMPOTENCY_KEY_REUSED. The one place where a retry is told from a reuse.
CREATE OR REPLACE FUNCTION ledger_replay(p_item jsonb, p_method text, p_request_hash text, p_result jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_method IS DISTINCT FROM p_item->>'method' OR p_request_hash IS DISTINCT FROM p_item->>'requestHash' THEN
    RETURN ledger_error('IDEMPOTENCY_KEY_REUSED', 'idempotency_key',
      format('idempotency_key: "%s" was already used for a different %s request; use a new key', p_item->>'key', p_method));
  END IF;
  -- Key and result are written in one transaction: a live key without a result is a bug.
  IF p_result IS NULL THEN RAISE EXCEPTION 'idempotency key % has no stored result', p_item->>'key'; END IF;
  -- A refusal kept by an aborted atomic batch (35-ledger-apply-atomic.sql) answers as it did.
  IF p_result ? 'error' THEN RETURN p_result; END IF;
  RETURN jsonb_build_object('replayed', true, 'result', p_result);
END;
$$;

-- An error outcome: nothing was written for the item.
CREATE OR REPLACE FUNCTION ledger_error(p_code text, p_field text, p_message text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('error', jsonb_build_object('code', p_code, 'field', p_field, 'message', p_message))
$$;

-- The closed-account rule, once: a closed account (CloseAccount, ledger_cmd_close) takes no money
-- in and gives none out, so every command that would move money into or out of it, or hold it,
-- is refused with ACCOUNT_CLOSED (nothing written): deposits, payouts, authorizations as payer or
-- payee, captures into a closed payee, refunds touching either side, overdraft limit changes. What
-- moves no money of it stays allowed: voiding or expiring a hold (a closed account has none: it
-- could only close with nothing held), metadata updates, every read. `p_balance` is the row the
-- command holds locked (ledger_apply locked it), so a close and a payment racing for the account
-- are decided in lock order: exactly one of them wins.
CREATE OR REPLACE FUNCTION ledger_closed_refusal(p_balance balances, p_field text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_balance.closed_at IS NOT NULL THEN ledger_error('ACCOUNT_CLOSED', p_field, format(
    '%s: account %s was closed at %s and takes no money commands', p_field, p_balance.account_id, ledger_iso(p_balance.closed_at))) END
$$;

-- The account a deposit or payout names (its balance row as the caller read it, all NULL when there
-- is none): missing, closed, or held in another currency than the command's, refuses the command
-- (nothing written). Deposits and payouts share this rule.
CREATE OR REPLACE FUNCTION ledger_account_refusal(p_account balances, p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_closed jsonb := ledger_closed_refusal(p_account, 'account_id');
BEGIN
  IF p_account.account_id IS NULL THEN
    RETURN ledger_error('ACCOUNT_NOT_FOUND', 'account_id', format('account_id: account %s does not exist', p_item->>'accountId'));
  END IF;
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  IF p_account.currency <> p_item->>'currency' THEN
    RETURN ledger_error('CURRENCY_MISMATCH', 'currency',
      format('currency: account %s holds %s, not %s', p_account.account_id, p_account.currency, p_item->>'currency'));
  END IF;
  RETURN NULL;
END;
$$;
