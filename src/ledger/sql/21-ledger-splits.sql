-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Split payments: one payer, the amount divided between payees (legs, table payment_splits, in the
-- order requested). The payment has no payee of its own (payments.payee_account_id and its steps'
-- payee are NULL; each payee gets every step in payment_split_steps); each leg's money reaches its payee as an entry whose transfer id is the payment,
-- so it is in the payee's statement with the payment as its cause. ledger_apply has locked the
-- payer's and every payee's balance row (30-ledger-apply.sql). The rules shared with the other
-- commands are in 10-/12-/15-*.sql: the decision (ledger_split_refusal) and the division of partial
-- captures and refunds (ledger_split_shares).

-- Moves money between the payer and the payees of a split payment (per-item path): `p_shares[n]`
-- to (p_sign = 1) or from (p_sign = -1) `p_payees[n]`, the sum from or to the payer; one entry per
-- account (none for a share of 0), all with transfer id `p_transfer_id`. The caller checked the
-- refusals.
CREATE OR REPLACE FUNCTION ledger_split_move(p_transfer_id text, p_payer text, p_payees text[], p_shares bigint[], p_sign int,
    p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances;
  v_id bigint;
  v_total bigint := (SELECT sum(s) FROM unnest(p_shares) s);
  v_entries ledger_entries[] := '{}';
BEGIN
  v_id := nextval('ledger_entries_id_seq');
  SELECT * INTO STRICT v_row FROM balances WHERE account_id = p_payer;
  v_row := ledger_entry_line(v_row, v_id, p_transfer_id, -p_sign * v_total, p_at);
  v_entries := v_entries || ledger_entry_row(v_row, v_id, p_transfer_id, -p_sign * v_total, p_at);
  PERFORM ledger_write_balance(v_row);
  FOR n IN 1 .. cardinality(p_payees) LOOP
    CONTINUE WHEN p_shares[n] = 0;
    v_id := nextval('ledger_entries_id_seq');
    SELECT * INTO STRICT v_row FROM balances WHERE account_id = p_payees[n];
    v_row := ledger_entry_line(v_row, v_id, p_transfer_id, p_sign * p_shares[n], p_at);
    v_entries := v_entries || ledger_entry_row(v_row, v_id, p_transfer_id, p_sign * p_shares[n], p_at);
    PERFORM ledger_write_balance(v_row);
  END LOOP;
  INSERT INTO ledger_entries SELECT * FROM unnest(v_entries);
END;
$$;

-- The legs of an event: [{payeeAccountId, <p_field>: share}] in leg order.
CREATE OR REPLACE FUNCTION ledger_split_legs(p_payees text[], p_shares bigint[], p_field text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_agg(jsonb_build_object('payeeAccountId', p, p_field, s::text) ORDER BY n) FROM unnest(p_payees, p_shares) WITH ORDINALITY u(p, s, n)
$$;

-- Authorize a split payment: ledger_cmd_authorize (20-ledger-commands.sql) with the payee's part
-- played by every leg. Declined as a whole when any account is in another currency, the payer
-- cannot afford the whole amount, or a payee's balance would leave int64: one decision.
CREATE OR REPLACE FUNCTION ledger_cmd_authorize_split(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_payer balances%ROWTYPE;
  v_row balances%ROWTYPE;
  v_payees balances[] := '{}';
  v_ids text[] := '{}';
  v_amounts bigint[] := '{}';
  v_leg jsonb;
  v_n bigint;
  v_id text := p_item->>'paymentId';
  v_amount bigint := (p_item->>'amountCents')::bigint;
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_manual boolean := p_item->>'captureMethod' = 'MANUAL';
  v_expires timestamptz := CASE WHEN v_manual THEN (p_item->>'holdExpiresAt')::timestamptz END;
  v_reason text;
  v_status text;
  v_step bigint;
BEGIN
  SELECT * INTO v_payer FROM balances WHERE account_id = p_item->>'payerAccountId';
  IF NOT FOUND THEN RETURN ledger_missing_account('payer_account_id', p_item->>'payerAccountId'); END IF;
  IF ledger_closed_refusal(v_payer, 'payer_account_id') IS NOT NULL THEN RETURN ledger_closed_refusal(v_payer, 'payer_account_id'); END IF;
  FOR v_leg, v_n IN SELECT l, o FROM jsonb_array_elements(p_item->'splits') WITH ORDINALITY x(l, o) LOOP
    SELECT * INTO v_row FROM balances WHERE account_id = v_leg->>'payeeAccountId';
    IF NOT FOUND THEN
      RETURN ledger_missing_account(format('splits[%s].payee_account_id', v_n - 1), v_leg->>'payeeAccountId');
    END IF;
    -- A closed payee refuses its leg, and so the whole payment (ledger_closed_refusal).
    IF ledger_closed_refusal(v_row, format('splits[%s].payee_account_id', v_n - 1)) IS NOT NULL THEN
      RETURN ledger_closed_refusal(v_row, format('splits[%s].payee_account_id', v_n - 1));
    END IF;
    v_payees := v_payees || v_row;
    v_ids := v_ids || v_row.account_id;
    v_amounts := v_amounts || (v_leg->>'amountCents')::bigint;
  END LOOP;
  -- Validated before (src/ledger/payments.ts); a breach here would write one balance row twice.
  IF v_payer.account_id = ANY (v_ids) OR (SELECT count(DISTINCT i) FROM unnest(v_ids) i) <> cardinality(v_ids)
     OR (SELECT sum(a) FROM unnest(v_amounts) a) <> v_amount THEN
    RAISE EXCEPTION 'ledger_cmd_authorize_split: payment % has overlapping payees or parts not summing to its amount', v_id;
  END IF;

  v_reason := ledger_split_refusal(v_payer, v_payees, v_amounts, p_item->>'currency', v_amount);
  v_status := CASE WHEN v_reason IS NOT NULL THEN 'DECLINED' WHEN v_manual THEN 'REQUIRES_CAPTURE' ELSE 'AUTHORIZED' END;

  INSERT INTO payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, description,
                        created_at, capture_method, hold_expires_at, metadata)
    VALUES (v_id, v_payer.account_id, NULL, v_amount, p_item->>'currency', v_status, v_reason,
            p_item->>'description', v_at, p_item->>'captureMethod', v_expires, coalesce(p_item->'metadata', '{}'));
  INSERT INTO payment_splits (payment_id, position, payee_account_id, amount_cents, captured_cents, created_at)
    SELECT v_id, n, v_ids[n], v_amounts[n], CASE WHEN v_status = 'AUTHORIZED' THEN v_amounts[n] ELSE 0 END, v_at
      FROM generate_subscripts(v_ids, 1) n;
  IF v_reason IS NULL THEN
    INSERT INTO payment_states (payment_id, status, held_cents, captured_cents, hold_expires_at, updated_at)
      VALUES (v_id, v_status, CASE WHEN v_manual THEN v_amount ELSE 0 END, CASE WHEN v_manual THEN 0 ELSE v_amount END, v_expires, v_at);
    IF v_manual THEN
      -- The whole amount is held on the payer; the legs get their parts at capture.
      v_payer := ledger_hold_movement(v_payer, v_id, v_amount, v_at);
    END IF;
  END IF;
  -- The payment's first step: the payer's on the transition, each payee's in payment_split_steps
  -- (ledger_split_steps, after the payees' rows were written back by ledger_split_move).
  v_payer.payment_seq := v_payer.payment_seq + 1;
  INSERT INTO payment_transitions (payment_id, status, amount_cents, created_at, payer_account_id, payee_account_id, payer_seq, payee_seq)
    VALUES (v_id, v_status, v_amount, v_at, v_payer.account_id, NULL, v_payer.payment_seq, NULL)
    RETURNING id INTO v_step;
  PERFORM ledger_write_balance(v_payer);
  IF v_status = 'AUTHORIZED' THEN
    PERFORM ledger_split_move(v_id, v_payer.account_id, v_ids, v_amounts, 1, v_at);
  END IF;
  PERFORM ledger_split_steps(v_id, v_step);

  PERFORM ledger_emit(p_item, CASE WHEN v_reason IS NULL THEN 'PaymentAuthorized' ELSE 'PaymentDeclined' END, 'payment', v_id,
                      ledger_authorize_payload(p_item, v_reason, v_expires));
  RETURN jsonb_build_object('result', ledger_payment_json(v_id));
END;
$$;

-- Capture of a split payment's open hold (ledger_cmd_capture has checked the state and amount):
-- the whole hold is released and the captured amount is divided between the legs by
-- ledger_split_shares in proportion to their amounts.
CREATE OR REPLACE FUNCTION ledger_split_capture(p_item jsonb, p_payment payments, p_state payment_states, p_amount bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_ids text[];
  v_amounts bigint[];
  v_shares bigint[];
  v_refusal text;
  v_closed jsonb;
BEGIN
  SELECT array_agg(payee_account_id ORDER BY position), array_agg(amount_cents ORDER BY position) INTO v_ids, v_amounts
    FROM payment_splits WHERE payment_id = p_payment.id;
  v_shares := ledger_split_shares(p_amount, v_amounts);
  -- Money into a closed payee is refused (ledger_closed_refusal); the payer holds this hold, so it is open.
  SELECT ledger_closed_refusal(b, 'payment_id') INTO v_closed FROM balances b
   WHERE b.account_id = ANY (v_ids) AND ledger_closed_refusal(b, 'payment_id') IS NOT NULL ORDER BY b.account_id LIMIT 1;
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  FOR n IN 1 .. cardinality(v_ids) LOOP
    SELECT ledger_credit_refusal(b, v_shares[n]) INTO v_refusal FROM balances b WHERE b.account_id = v_ids[n];
    IF v_refusal IS NOT NULL THEN
      RETURN ledger_error('BALANCE_LIMIT_EXCEEDED', 'amount_cents', format(
        'amount_cents: capturing %s would take account %s beyond the int64 range of minor units', p_amount, v_ids[n]));
    END IF;
  END LOOP;

  PERFORM ledger_hold(p_payment.id, p_payment.payer_account_id, -p_state.held_cents, v_at);
  PERFORM ledger_split_move(p_payment.id, p_payment.payer_account_id, v_ids, v_shares, 1, v_at);
  UPDATE payment_splits l SET captured_cents = v_shares[l.position] WHERE l.payment_id = p_payment.id;
  UPDATE payment_states SET status = 'CAPTURED', held_cents = 0, captured_cents = p_amount, updated_at = v_at WHERE payment_id = p_payment.id;
  PERFORM ledger_transition(p_payment.id, 'CAPTURED', p_amount, v_at, p_payment.payer_account_id, NULL);
  PERFORM ledger_emit(p_item, 'PaymentCaptured', 'payment', p_payment.id, jsonb_build_object('paymentId', p_payment.id,
    'payerAccountId', p_payment.payer_account_id, 'payeeAccountId', '', 'currency', p_payment.currency,
    'capturedCents', p_amount::text, 'releasedCents', (p_state.held_cents - p_amount)::text, 'createdAt', p_item->'at',
    'splits', ledger_split_legs(v_ids, v_shares, 'capturedCents'), 'metadata', p_payment.metadata));
  RETURN jsonb_build_object('result', ledger_payment_json(p_payment.id));
END;
$$;

-- Refund of a split payment (ledger_cmd_refund has checked the state and that the amount is at
-- most what is left to refund): the money comes back from the payees, divided by
-- ledger_split_shares in proportion to what each leg can still give back (captured - refunded),
-- so no payee returns more than it received. Declined as a whole (recorded, nothing moves) when a
-- payee cannot cover its share or the payer's balance would leave int64.
CREATE OR REPLACE FUNCTION ledger_split_refund(p_item jsonb, p_payment payments, p_state payment_states, p_amount bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_refund text := p_item->>'refundId';
  v_ids text[];
  v_shares bigint[];
  v_reason text;
  v_payer balances%ROWTYPE;
  v_status text;
  v_closed jsonb;
BEGIN
  SELECT array_agg(payee_account_id ORDER BY position), ledger_split_shares(p_amount, array_agg(captured_cents - refunded_cents ORDER BY position))
    INTO v_ids, v_shares FROM payment_splits WHERE payment_id = p_payment.id;
  -- No money back into a closed payer, nor out of a closed payee (ledger_closed_refusal).
  SELECT ledger_closed_refusal(b, 'payment_id') INTO v_closed FROM balances b
   WHERE (b.account_id = ANY (v_ids) OR b.account_id = p_payment.payer_account_id) AND ledger_closed_refusal(b, 'payment_id') IS NOT NULL
   ORDER BY b.account_id LIMIT 1;
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  FOR n IN 1 .. cardinality(v_ids) LOOP
    CONTINUE WHEN v_shares[n] = 0;
    SELECT ledger_debit_refusal(b, v_shares[n]) INTO v_reason FROM balances b WHERE b.account_id = v_ids[n];
    EXIT WHEN v_reason IS NOT NULL;
  END LOOP;
  SELECT * INTO v_payer FROM balances WHERE account_id = p_payment.payer_account_id;
  v_reason := coalesce(v_reason, ledger_credit_refusal(v_payer, p_amount));
  v_status := CASE WHEN v_reason IS NULL THEN 'REFUNDED' ELSE 'DECLINED' END;

  INSERT INTO refunds (id, payment_id, amount_cents, reason, status, decline_reason, created_at, metadata)
    VALUES (v_refund, p_payment.id, p_amount, p_item->>'reason', v_status, v_reason, v_at, coalesce(p_item->'metadata', '{}'));
  IF v_reason IS NULL THEN
    PERFORM ledger_split_move(v_refund, p_payment.payer_account_id, v_ids, v_shares, -1, v_at);
    UPDATE payment_splits l SET refunded_cents = l.refunded_cents + v_shares[l.position] WHERE l.payment_id = p_payment.id;
    UPDATE payment_states SET refunded_cents = refunded_cents + p_amount, updated_at = v_at WHERE payment_id = p_payment.id;
    PERFORM ledger_transition(p_payment.id, 'REFUNDED', p_amount, v_at, p_payment.payer_account_id, NULL);
  END IF;
  PERFORM ledger_emit(p_item, CASE WHEN v_reason IS NULL THEN 'PaymentRefunded' ELSE 'PaymentRefundDeclined' END, 'payment', p_payment.id,
    jsonb_build_object('refundId', p_item->'refundId', 'paymentId', p_payment.id, 'payerAccountId', p_payment.payer_account_id,
      'payeeAccountId', '', 'amountCents', p_item->'amountCents', 'currency', p_payment.currency, 'reason', p_item->'reason',
      'refundedCents', (p_state.refunded_cents + CASE WHEN v_reason IS NULL THEN p_amount ELSE 0 END)::text, 'createdAt', p_item->'at',
      'splits', ledger_split_legs(v_ids, v_shares, 'refundedCents'), 'metadata', coalesce(p_item->'metadata', '{}'))
    || CASE WHEN v_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('declineReason', v_reason) END);
  RETURN jsonb_build_object('result', jsonb_build_object('refundId', p_item->'refundId', 'paymentId', p_payment.id,
    'amountCents', jsonb_build_object('$bigint', p_item->'amountCents'), 'reason', p_item->'reason', 'status', v_status,
    'declineReason', v_reason, 'createdAt', jsonb_build_object('$date', p_item->'at'), 'payment', ledger_payment_json(p_payment.id),
    'metadata', coalesce(p_item->'metadata', '{}')));
END;
$$;
