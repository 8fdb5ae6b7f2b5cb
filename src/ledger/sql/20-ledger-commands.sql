-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- One function per money-moving command. Each runs inside ledger_apply (30-ledger-apply.sql), which
-- has locked every balance row involved and found the item's idempotency key free. Each returns
-- {"result": <stored record>} (done: the key is written with it, for replays, declines included) or
-- ledger_error(...) (nothing written). Amounts arrive as decimal strings, times as ISO strings.

-- Deposit: money enters from the funding account of the currency (debit funding, credit account).
CREATE OR REPLACE FUNCTION ledger_cmd_deposit(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_account balances%ROWTYPE;
  v_funding balances%ROWTYPE;
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_refused jsonb;
BEGIN
  SELECT * INTO v_account FROM balances WHERE account_id = p_item->>'accountId';
  v_refused := ledger_account_refusal(v_account, p_item);
  IF v_refused IS NOT NULL THEN RETURN v_refused; END IF;
  SELECT * INTO STRICT v_funding FROM balances WHERE account_id = p_item->>'fundingAccountId';
  v_refused := ledger_deposit_refusal(v_account, v_funding, v_amount);
  IF v_refused IS NOT NULL THEN RETURN v_refused; END IF;

  INSERT INTO deposits (id, account_id, amount_cents, currency, created_at, metadata)
    VALUES (p_item->>'depositId', v_account.account_id, v_amount, v_account.currency, v_at, coalesce(p_item->'metadata', '{}'));
  PERFORM ledger_move(p_item->>'depositId', v_funding.account_id, v_account.account_id, v_amount, v_account.currency, v_at);
  PERFORM ledger_emit(p_item, 'FundsDeposited', 'account', v_account.account_id,
                      ledger_deposit_payload(p_item, v_account, v_funding.account_id));
  RETURN jsonb_build_object('result', ledger_deposit_result(p_item, v_account));
END;
$$;

-- Authorize: decide under the lock (currency, funds with overdraft, int64). Automatic capture moves
-- the money at once (AUTHORIZED); manual capture places a hold on the payer (REQUIRES_CAPTURE).
-- A decline is recorded with its reason and moves nothing.
CREATE OR REPLACE FUNCTION ledger_cmd_authorize(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_payer balances%ROWTYPE;
  v_payee balances%ROWTYPE;
  v_id text := p_item->>'paymentId';
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_manual boolean := p_item->>'captureMethod' = 'MANUAL';
  v_expires timestamptz := CASE WHEN v_manual THEN (p_item->>'holdExpiresAt')::timestamptz END;
  v_reason text;
  v_status text;
  v_rows balances[];
  v_closed jsonb;
  v_payment payments%ROWTYPE;
  v_state payment_states%ROWTYPE;
BEGIN
  SELECT * INTO v_payer FROM balances WHERE account_id = p_item->>'payerAccountId';
  IF NOT FOUND THEN RETURN ledger_missing_account('payer_account_id', p_item->>'payerAccountId'); END IF;
  SELECT * INTO v_payee FROM balances WHERE account_id = p_item->>'payeeAccountId';
  IF NOT FOUND THEN RETURN ledger_missing_account('payee_account_id', p_item->>'payeeAccountId'); END IF;
  v_closed := ledger_authorize_closed(v_payer, v_payee);
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;

  v_reason := ledger_authorize_refusal(v_payer, v_payee, p_item->>'currency', v_amount);
  v_status := CASE WHEN v_reason IS NOT NULL THEN 'DECLINED' WHEN v_manual THEN 'REQUIRES_CAPTURE' ELSE 'AUTHORIZED' END;

  INSERT INTO payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, description,
                        created_at, capture_method, hold_expires_at, metadata)
    VALUES (v_id, v_payer.account_id, v_payee.account_id, v_amount, p_item->>'currency', v_status, v_reason,
            p_item->>'description', v_at, p_item->>'captureMethod', v_expires, coalesce(p_item->'metadata', '{}'))
    RETURNING * INTO v_payment;
  -- The lines and the step are made on the two rows read above (both locked by ledger_apply), as
  -- ledger_hold / ledger_move / ledger_transition would make them, and each row is written once.
  IF v_reason IS NULL THEN
    INSERT INTO payment_states (payment_id, status, held_cents, captured_cents, hold_expires_at, updated_at)
      VALUES (v_id, v_status, CASE WHEN v_manual THEN v_amount ELSE 0 END, CASE WHEN v_manual THEN 0 ELSE v_amount END, v_expires, v_at)
      RETURNING * INTO v_state;
    IF v_manual THEN
      v_payer := ledger_hold_movement(v_payer, v_id, v_amount, v_at);
    ELSE
      v_rows := ledger_entry_pair(v_payer, v_payee, v_id, v_amount, v_at);
      v_payer := v_rows[1];
      v_payee := v_rows[2];
    END IF;
  END IF;
  -- Every payment's first step, a decline's included (WatchPayments streams steps).
  PERFORM ledger_write_step(v_payer, v_payee, v_id, v_status, v_amount, v_at);

  PERFORM ledger_emit(p_item, CASE WHEN v_reason IS NULL THEN 'PaymentAuthorized' ELSE 'PaymentDeclined' END, 'payment', v_id,
                      ledger_authorize_payload(p_item, v_reason, v_expires));
  -- The record from the rows just written (ledger_payment_json's shape without reading them back).
  RETURN jsonb_build_object('result', ledger_payment_record(v_payment, v_state));
END;
$$;

-- Locks the state of a payment and returns NULL when it is an open hold, else the error explaining
-- why there is no hold to act on (the rule: ledger_hold_state_error, 16-ledger-command-rules.sql).
CREATE OR REPLACE FUNCTION ledger_open_hold_error(p_payment_id text, p_action text, p_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_state payment_states%ROWTYPE;
  v_status text;
BEGIN
  SELECT * INTO v_state FROM payment_states WHERE payment_id = p_payment_id FOR UPDATE;
  IF NOT FOUND THEN SELECT status INTO v_status FROM payments WHERE id = p_payment_id; END IF;
  RETURN ledger_hold_state_error(p_payment_id, v_state, v_status, p_action, p_at);
END;
$$;

-- Capture: moves the captured part of the hold to the payee (two entries) and releases the rest
-- (a split payment's: ledger_split_capture, 21-ledger-splits.sql).
-- The captured part comes out of the hold itself, so it was checked against the payer's funds when
-- the hold was placed; only the payee's int64 range is checked again.
CREATE OR REPLACE FUNCTION ledger_cmd_capture(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_item->>'paymentId';
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_error jsonb;
  v_state payment_states%ROWTYPE;
  v_payment payments%ROWTYPE;
  v_payer balances%ROWTYPE;
  v_payee balances%ROWTYPE;
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_rows balances[];
BEGIN
  v_error := ledger_open_hold_error(v_id, 'captured', v_at);
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  SELECT * INTO v_state FROM payment_states WHERE payment_id = v_id;
  v_amount := ledger_capture_amount(v_state, v_amount);
  v_error := ledger_capture_excess(v_id, v_state, v_amount);
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  SELECT * INTO v_payment FROM payments WHERE id = v_id;
  IF v_payment.payee_account_id IS NULL THEN RETURN ledger_split_capture(p_item, v_payment, v_state, v_amount); END IF;
  SELECT * INTO v_payee FROM balances WHERE account_id = v_payment.payee_account_id;
  v_error := ledger_capture_payee_refusal(v_payee, v_amount);
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  SELECT * INTO v_payer FROM balances WHERE account_id = v_payment.payer_account_id;

  -- The lines and the step on the two locked rows, as ledger_hold, ledger_move and
  -- ledger_transition would make them in that order, each row written once.
  v_payer := ledger_hold_movement(v_payer, v_id, -v_state.held_cents, v_at);
  v_rows := ledger_entry_pair(v_payer, v_payee, v_id, v_amount, v_at);
  PERFORM ledger_write_step(v_rows[1], v_rows[2], v_id, 'CAPTURED', v_amount, v_at);
  PERFORM ledger_emit(p_item, 'PaymentCaptured', 'payment', v_id, ledger_capture_payload(p_item, v_payment, v_state.held_cents, v_amount));
  UPDATE payment_states SET status = 'CAPTURED', held_cents = 0, captured_cents = v_amount, updated_at = v_at WHERE payment_id = v_id
    RETURNING * INTO v_state;
  RETURN jsonb_build_object('result', ledger_payment_record(v_payment, v_state));
END;
$$;

-- Void (a client cancels the hold) and expire (the sweeper releases a hold past its expiry): the
-- whole hold goes back to the payer's available balance and nothing reaches the payee.
CREATE OR REPLACE FUNCTION ledger_cmd_release(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_item->>'paymentId';
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_expire boolean := p_item->>'kind' = 'expire';
  v_status text := CASE WHEN v_expire THEN 'EXPIRED' ELSE 'VOIDED' END;
  v_error jsonb;
  v_state payment_states%ROWTYPE;
  v_after payment_states%ROWTYPE;
  v_payment payments%ROWTYPE;
  v_payer balances%ROWTYPE;
  v_payee balances%ROWTYPE;
BEGIN
  IF v_expire THEN
    SELECT * INTO v_state FROM payment_states WHERE payment_id = v_id FOR UPDATE;
    v_error := ledger_expire_error(v_id, v_state, v_at);
    IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  ELSE
    v_error := ledger_open_hold_error(v_id, 'voided', v_at);
    IF v_error IS NOT NULL THEN RETURN v_error; END IF;
    SELECT * INTO v_state FROM payment_states WHERE payment_id = v_id;
  END IF;
  SELECT * INTO v_payment FROM payments WHERE id = v_id;
  IF v_payment.payee_account_id IS NULL THEN
    -- A split payment: its step goes to each of its payees (ledger_transition, ledger_split_steps).
    PERFORM ledger_hold(v_id, v_payment.payer_account_id, -v_state.held_cents, v_at);
    PERFORM ledger_transition(v_id, v_status, v_state.held_cents, v_at, v_payment.payer_account_id, NULL);
  ELSE
    -- The released line and the step on the two locked rows, as ledger_hold and ledger_transition
    -- would make them in that order, each row written once (the payer's was written twice).
    SELECT * INTO v_payer FROM balances WHERE account_id = v_payment.payer_account_id;
    SELECT * INTO v_payee FROM balances WHERE account_id = v_payment.payee_account_id;
    v_payer := ledger_hold_movement(v_payer, v_id, -v_state.held_cents, v_at);
    PERFORM ledger_write_step(v_payer, v_payee, v_id, v_status, v_state.held_cents, v_at);
  END IF;
  UPDATE payment_states SET status = v_status, held_cents = 0, updated_at = v_at WHERE payment_id = v_id
    RETURNING * INTO v_after;
  PERFORM ledger_emit(p_item, 'Payment' || initcap(v_status), 'payment', v_id, ledger_release_payload(p_item, v_payment, v_state.held_cents));
  -- A plain payment's record from the rows in hand (ledger_payment_json's shape without reading them back).
  RETURN jsonb_build_object('result', CASE WHEN v_payment.payee_account_id IS NULL THEN ledger_payment_json(v_id)
                                           ELSE ledger_payment_record(v_payment, v_after) END);
END;
$$;

-- Refund: money goes back from payee to payer, several times while the refunds' sum stays at most
-- what reached the payee (a split payment's: ledger_split_refund, 21-ledger-splits.sql). A payee
-- that cannot cover it (funds rule with its overdraft limit) gets a recorded, declined refund (and
-- a PaymentRefundDeclined event): the payment's refundable amount is unchanged and the client may
-- retry with a new key once the payee has funds.
CREATE OR REPLACE FUNCTION ledger_cmd_refund(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_item->>'paymentId';
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_state payment_states%ROWTYPE;
  v_payment payments%ROWTYPE;
  v_payer balances%ROWTYPE;
  v_payee balances%ROWTYPE;
  v_reason text;
  v_status text;
  v_closed jsonb;
  v_after payment_states%ROWTYPE;
  v_rows balances[];
BEGIN
  SELECT * INTO v_payment FROM payments WHERE id = v_id;
  IF FOUND THEN SELECT * INTO v_state FROM payment_states WHERE payment_id = v_id FOR UPDATE; END IF;
  v_closed := ledger_refund_state_error(v_id, v_payment, v_state, v_amount);
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  IF v_payment.payee_account_id IS NULL THEN RETURN ledger_split_refund(p_item, v_payment, v_state, v_amount); END IF;
  SELECT * INTO v_payer FROM balances WHERE account_id = v_payment.payer_account_id;
  SELECT * INTO v_payee FROM balances WHERE account_id = v_payment.payee_account_id;
  v_closed := ledger_refund_closed(v_payer, v_payee);
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  v_reason := ledger_refund_reason(v_payer, v_payee, v_amount);
  v_status := CASE WHEN v_reason IS NULL THEN 'REFUNDED' ELSE 'DECLINED' END;

  INSERT INTO refunds (id, payment_id, amount_cents, reason, status, decline_reason, created_at, metadata)
    VALUES (p_item->>'refundId', v_id, v_amount, p_item->>'reason', v_status, v_reason, v_at, coalesce(p_item->'metadata', '{}'));
  v_after := v_state;
  IF v_reason IS NULL THEN
    -- The two entries (payee to payer) and the step on the two locked rows, as ledger_move and
    -- ledger_transition would make them, each row written once.
    v_rows := ledger_entry_pair(v_payee, v_payer, p_item->>'refundId', v_amount, v_at);
    PERFORM ledger_write_step(v_rows[2], v_rows[1], v_id, 'REFUNDED', v_amount, v_at);
    UPDATE payment_states SET refunded_cents = refunded_cents + v_amount, updated_at = v_at WHERE payment_id = v_id
      RETURNING * INTO v_after;
  END IF;
  PERFORM ledger_emit(p_item, CASE WHEN v_reason IS NULL THEN 'PaymentRefunded' ELSE 'PaymentRefundDeclined' END, 'payment', v_id,
    ledger_refund_payload(p_item, v_payment, v_reason, v_after.refunded_cents));
  RETURN jsonb_build_object('result', ledger_refund_result(p_item, v_reason, ledger_payment_record(v_payment, v_after)));
END;
$$;

-- Withdrawal (payout): money leaves to the funding account of the currency, so every currency
-- still sums to zero. Insufficient funds (with the overdraft limit) declines it, recorded (and a
-- FundsWithdrawalDeclined event).
CREATE OR REPLACE FUNCTION ledger_cmd_withdraw(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_account balances%ROWTYPE;
  v_funding balances%ROWTYPE;
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_reason text;
  v_refused jsonb;
BEGIN
  SELECT * INTO v_account FROM balances WHERE account_id = p_item->>'accountId';
  v_refused := ledger_account_refusal(v_account, p_item);
  IF v_refused IS NOT NULL THEN RETURN v_refused; END IF;
  SELECT * INTO STRICT v_funding FROM balances WHERE account_id = p_item->>'fundingAccountId';
  v_reason := ledger_withdraw_refusal(v_account, v_funding, v_amount);
  INSERT INTO withdrawals (id, account_id, amount_cents, currency, reference, status, decline_reason, created_at, metadata)
    VALUES (p_item->>'withdrawalId', v_account.account_id, v_amount, v_account.currency, p_item->>'reference',
            CASE WHEN v_reason IS NULL THEN 'WITHDRAWN' ELSE 'DECLINED' END, v_reason, v_at, coalesce(p_item->'metadata', '{}'));
  IF v_reason IS NULL THEN
    PERFORM ledger_move(p_item->>'withdrawalId', v_account.account_id, v_funding.account_id, v_amount, v_account.currency, v_at);
  END IF;
  PERFORM ledger_emit(p_item, CASE WHEN v_reason IS NULL THEN 'FundsWithdrawn' ELSE 'FundsWithdrawalDeclined' END, 'account',
                      v_account.account_id, ledger_withdraw_payload(p_item, v_account, v_funding.account_id, v_reason));
  RETURN jsonb_build_object('result', ledger_withdraw_result(p_item, v_account, v_reason));
END;
$$;
