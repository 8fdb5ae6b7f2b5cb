-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- What deposits, payouts, captures, voids, expiries and refunds decide, and the events and records
-- they write, shared by the per-item commands (20-ledger-commands.sql) and the set-based path
-- (ledger_apply_moves, 26-ledger-apply-moves.sql): each takes the rows as the command sees them
-- (the per-item path reads them from the tables, the set path holds them in memory), so each rule
-- and each shape exists once whichever path runs it.

-- Deposit: the int64 room of the account and of the funding account (ledger_account_refusal
-- has already accepted the account), as the refusal the deposit answers, or NULL.
CREATE OR REPLACE FUNCTION ledger_deposit_refusal(p_account balances, p_funding balances, p_amount bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN coalesce(ledger_credit_refusal(p_account, p_amount), ledger_debit_refusal(p_funding, p_amount)) IS NOT NULL THEN
    ledger_error(coalesce(ledger_credit_refusal(p_account, p_amount), ledger_debit_refusal(p_funding, p_amount)), 'amount_cents', format(
      'amount_cents: depositing %s %s would take a balance beyond the int64 range of minor units (account %s holds %s, the %s funding account %s); the deposit was refused',
      p_amount, p_account.currency, p_account.account_id, p_account.available_cents + p_account.held_cents, p_account.currency,
      p_funding.available_cents)) END
$$;

-- FundsDeposited's payload and the DepositRecord, from the account's row before the deposit.
CREATE OR REPLACE FUNCTION ledger_deposit_payload(p_item jsonb, p_account balances, p_funding_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('depositId', p_item->'depositId', 'accountId', p_account.account_id, 'fundingAccountId', p_funding_id,
    'amountCents', p_item->'amountCents', 'currency', p_account.currency,
    'balanceAfterCents', (p_account.available_cents + (p_item->>'amountCents')::bigint)::text,
    'createdAt', p_item->'at', 'metadata', coalesce(p_item->'metadata', '{}'))
$$;

CREATE OR REPLACE FUNCTION ledger_deposit_result(p_item jsonb, p_account balances) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('depositId', p_item->'depositId', 'accountId', p_account.account_id,
    'amountCents', jsonb_build_object('$bigint', p_item->'amountCents'), 'currency', p_account.currency,
    'createdAt', jsonb_build_object('$date', p_item->'at'),
    'balanceAfterCents', jsonb_build_object('$bigint', (p_account.available_cents + (p_item->>'amountCents')::bigint)::text),
    'metadata', coalesce(p_item->'metadata', '{}'))
$$;

-- Payout: why it is declined (recorded, not refused), or NULL: the account's funds with its
-- overdraft, then the funding account's int64 room.
CREATE OR REPLACE FUNCTION ledger_withdraw_refusal(p_account balances, p_funding balances, p_amount bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ledger_debit_refusal(p_account, p_amount), ledger_credit_refusal(p_funding, p_amount))
$$;

-- FundsWithdrawn's (or, declined, FundsWithdrawalDeclined's) payload and the WithdrawalRecord,
-- from the account's row before the payout.
CREATE OR REPLACE FUNCTION ledger_withdraw_payload(p_item jsonb, p_account balances, p_funding_id text, p_reason text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('withdrawalId', p_item->'withdrawalId', 'accountId', p_account.account_id, 'fundingAccountId', p_funding_id,
    'amountCents', p_item->'amountCents', 'currency', p_account.currency, 'reference', p_item->'reference',
    'balanceAfterCents', (p_account.available_cents - CASE WHEN p_reason IS NULL THEN (p_item->>'amountCents')::bigint ELSE 0 END)::text,
    'createdAt', p_item->'at', 'metadata', coalesce(p_item->'metadata', '{}'))
    || CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('declineReason', p_reason) END
$$;

CREATE OR REPLACE FUNCTION ledger_withdraw_result(p_item jsonb, p_account balances, p_reason text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('withdrawalId', p_item->'withdrawalId', 'accountId', p_account.account_id,
    'amountCents', jsonb_build_object('$bigint', p_item->'amountCents'), 'currency', p_account.currency, 'reference', p_item->'reference',
    'status', CASE WHEN p_reason IS NULL THEN 'WITHDRAWN' ELSE 'DECLINED' END, 'declineReason', p_reason,
    'createdAt', jsonb_build_object('$date', p_item->'at'),
    'balanceAfterCents', jsonb_build_object('$bigint',
      (p_account.available_cents - CASE WHEN p_reason IS NULL THEN (p_item->>'amountCents')::bigint ELSE 0 END)::text),
    'metadata', coalesce(p_item->'metadata', '{}'))
$$;

-- NULL when `p_state` (all NULL: the payment has no state row; `p_payment_status` NULL: there is
-- no payment) is an open hold, else the error explaining why there is no hold to capture or void
-- (`p_action`). A hold past its expiry counts as expired before the sweeper runs.
CREATE OR REPLACE FUNCTION ledger_hold_state_error(p_payment_id text, p_state payment_states, p_payment_status text, p_action text,
    p_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_status text;
BEGIN
  IF p_state.payment_id IS NULL THEN
    IF p_payment_status IS NULL THEN
      RETURN ledger_error('PAYMENT_NOT_FOUND', 'payment_id', format('payment_id: payment %s does not exist', p_payment_id));
    END IF;
    v_status := p_payment_status;
  ELSIF p_state.status = 'REQUIRES_CAPTURE' AND p_state.hold_expires_at <= p_at THEN
    v_status := 'EXPIRED';
  ELSIF p_state.status = 'REQUIRES_CAPTURE' THEN
    RETURN NULL;
  ELSE
    v_status := p_state.status;
  END IF;
  RETURN ledger_error('INVALID_PAYMENT_STATE', 'payment_id', format(
    'payment_id: payment %s is %s; only a REQUIRES_CAPTURE payment (an open hold) can be %s', p_payment_id, v_status, p_action));
END;
$$;

-- What a capture of `p_requested` takes from the open hold `p_state`: 0 asks for all of it.
CREATE OR REPLACE FUNCTION ledger_capture_amount(p_state payment_states, p_requested bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_requested = 0 THEN p_state.held_cents ELSE p_requested END
$$;

-- A capture of more than the hold holds is refused, or NULL.
CREATE OR REPLACE FUNCTION ledger_capture_excess(p_payment_id text, p_state payment_states, p_amount bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_amount > p_state.held_cents THEN ledger_error('CAPTURE_EXCEEDS_HOLD', 'amount_cents', format(
    'amount_cents: payment %s is REQUIRES_CAPTURE with %s held; %s cannot be captured', p_payment_id, p_state.held_cents, p_amount)) END
$$;

-- The payee of a capture (not split): money into a closed payee is refused, and so is one beyond
-- its int64 room. The payer cannot be closed: it holds this open hold. The captured part comes
-- out of the hold itself, checked against the payer's funds when the hold was placed.
CREATE OR REPLACE FUNCTION ledger_capture_payee_refusal(p_payee balances, p_amount bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ledger_closed_refusal(p_payee, 'payment_id'),
    CASE WHEN ledger_credit_refusal(p_payee, p_amount) IS NOT NULL THEN ledger_error('BALANCE_LIMIT_EXCEEDED', 'amount_cents', format(
      'amount_cents: capturing %s would take account %s beyond the int64 range of minor units', p_amount, p_payee.account_id)) END)
$$;

-- PaymentCaptured's payload: `p_held` was the hold, `p_amount` of it reached the payee.
CREATE OR REPLACE FUNCTION ledger_capture_payload(p_item jsonb, p_payment payments, p_held bigint, p_amount bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('paymentId', p_payment.id,
    'payerAccountId', p_payment.payer_account_id, 'payeeAccountId', p_payment.payee_account_id, 'currency', p_payment.currency,
    'capturedCents', p_amount::text, 'releasedCents', (p_held - p_amount)::text, 'createdAt', p_item->'at',
    'metadata', p_payment.metadata)
$$;

-- An expiry (the sweeper's) needs an open hold past its expiry, else it is refused.
CREATE OR REPLACE FUNCTION ledger_expire_error(p_payment_id text, p_state payment_states, p_at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_state.payment_id IS NULL OR p_state.status <> 'REQUIRES_CAPTURE' OR p_state.hold_expires_at > p_at THEN
    ledger_error('INVALID_PAYMENT_STATE', 'payment_id', format('payment_id: payment %s has no expired open hold', p_payment_id)) END
$$;

-- PaymentVoided's / PaymentExpired's payload: the whole hold `p_held` went back to the payer.
CREATE OR REPLACE FUNCTION ledger_release_payload(p_item jsonb, p_payment payments, p_held bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('paymentId', p_payment.id,
    'payerAccountId', p_payment.payer_account_id, 'payeeAccountId', coalesce(p_payment.payee_account_id, ''),
    'currency', p_payment.currency, 'releasedCents', p_held::text, 'createdAt', p_item->'at', 'metadata', p_payment.metadata)
$$;

-- A refund of `p_amount` of the payment `p_payment` (all NULL: none) in state `p_state` (all NULL:
-- none, a declined payment) is refused, or NULL: the payment must exist, have reached the payee
-- (AUTHORIZED or CAPTURED), and the refunds' sum stay within what reached the payee.
CREATE OR REPLACE FUNCTION ledger_refund_state_error(p_payment_id text, p_payment payments, p_state payment_states, p_amount bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_payment.id IS NULL THEN
    RETURN ledger_error('PAYMENT_NOT_FOUND', 'payment_id', format('payment_id: payment %s does not exist', p_payment_id));
  END IF;
  IF p_state.payment_id IS NULL OR p_state.status NOT IN ('AUTHORIZED', 'CAPTURED') THEN
    RETURN ledger_error('INVALID_PAYMENT_STATE', 'payment_id', format(
      'payment_id: payment %s is %s; only an AUTHORIZED or CAPTURED payment can be refunded', p_payment_id,
      coalesce(p_state.status, p_payment.status)));
  END IF;
  IF p_amount > p_state.captured_cents - p_state.refunded_cents THEN
    RETURN ledger_error('REFUND_EXCEEDS_CAPTURED', 'amount_cents', format(
      'amount_cents: payment %s is %s with %s captured and %s refunded; at most %s can be refunded, not %s', p_payment_id, p_state.status,
      p_state.captured_cents, p_state.refunded_cents, p_state.captured_cents - p_state.refunded_cents, p_amount));
  END IF;
  RETURN NULL;
END;
$$;

-- A refund (not split) moves money out of the payee and into the payer: neither may be closed
-- (refused); a payee that cannot cover it, or a payer beyond its int64 room, declines it (recorded).
CREATE OR REPLACE FUNCTION ledger_refund_closed(p_payer balances, p_payee balances) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ledger_closed_refusal(p_payer, 'payment_id'), ledger_closed_refusal(p_payee, 'payment_id'))
$$;

CREATE OR REPLACE FUNCTION ledger_refund_reason(p_payer balances, p_payee balances, p_amount bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ledger_debit_refusal(p_payee, p_amount), ledger_credit_refusal(p_payer, p_amount))
$$;

-- PaymentRefunded's (declined: PaymentRefundDeclined's) payload; `p_refunded` is the payment's
-- refunded sum after the refund.
CREATE OR REPLACE FUNCTION ledger_refund_payload(p_item jsonb, p_payment payments, p_reason text, p_refunded bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('refundId', p_item->'refundId', 'paymentId', p_payment.id, 'payerAccountId', p_payment.payer_account_id,
      'payeeAccountId', p_payment.payee_account_id, 'amountCents', p_item->'amountCents', 'currency', p_payment.currency,
      'reason', p_item->'reason', 'refundedCents', p_refunded::text, 'createdAt', p_item->'at', 'metadata', coalesce(p_item->'metadata', '{}'))
    || CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('declineReason', p_reason) END
$$;

-- The RefundRecord; `p_payment_record` is the payment as the refund left it (ledger_payment_json).
CREATE OR REPLACE FUNCTION ledger_refund_result(p_item jsonb, p_reason text, p_payment_record jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('refundId', p_item->'refundId', 'paymentId', p_item->'paymentId',
    'amountCents', jsonb_build_object('$bigint', p_item->'amountCents'), 'reason', p_item->'reason',
    'status', CASE WHEN p_reason IS NULL THEN 'REFUNDED' ELSE 'DECLINED' END,
    'declineReason', p_reason, 'createdAt', jsonb_build_object('$date', p_item->'at'), 'payment', p_payment_record,
    'metadata', coalesce(p_item->'metadata', '{}'))
$$;
