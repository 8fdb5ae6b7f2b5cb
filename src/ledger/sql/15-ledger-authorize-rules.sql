-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- What an authorization decides and writes, shared by the per-item command (ledger_cmd_authorize,
-- 20-ledger-commands.sql) and the set-based batch path (ledger_apply_authorizations,
-- 25-ledger-apply-authorizations.sql), so each rule exists once whichever path runs it.

-- Why a payment of `p_amount` in `p_currency` from `p_payer` to `p_payee` is declined, or NULL:
-- both accounts in the payment's currency, then the payer's funds, then the payee's int64 room.
CREATE OR REPLACE FUNCTION ledger_authorize_refusal(p_payer balances, p_payee balances, p_currency text, p_amount bigint)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_payer.currency <> p_currency OR p_payee.currency <> p_currency THEN 'CURRENCY_MISMATCH'
              ELSE coalesce(ledger_debit_refusal(p_payer, p_amount), ledger_credit_refusal(p_payee, p_amount)) END
$$;

-- The refusal of an authorization naming a closed payer or payee (ledger_closed_refusal), or NULL.
CREATE OR REPLACE FUNCTION ledger_authorize_closed(p_payer balances, p_payee balances) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(ledger_closed_refusal(p_payer, 'payer_account_id'), ledger_closed_refusal(p_payee, 'payee_account_id'))
$$;

-- The refusal of an item naming an account that does not exist (`p_field` is the request field).
CREATE OR REPLACE FUNCTION ledger_missing_account(p_field text, p_account_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT ledger_error('ACCOUNT_NOT_FOUND', p_field, format('%s: account %s does not exist', p_field, p_account_id))
$$;

-- The payload of the PaymentAuthorized / PaymentDeclined event of an authorize item.
CREATE OR REPLACE FUNCTION ledger_authorize_payload(p_item jsonb, p_reason text, p_expires timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('paymentId', p_item->'paymentId', 'payerAccountId', p_item->'payerAccountId',
      'payeeAccountId', p_item->'payeeAccountId', 'amountCents', p_item->'amountCents', 'currency', p_item->'currency',
      'description', p_item->'description', 'createdAt', p_item->'at', 'captureMethod', p_item->'captureMethod',
      'metadata', coalesce(p_item->'metadata', '{}'))
    || CASE WHEN p_item ? 'splits' THEN jsonb_build_object('splits', p_item->'splits') ELSE '{}'::jsonb END
    || CASE WHEN p_reason IS NOT NULL THEN jsonb_build_object('declineReason', p_reason)
            WHEN p_item->>'captureMethod' = 'MANUAL' THEN jsonb_build_object('holdExpiresAt', ledger_iso(p_expires))
            ELSE '{}'::jsonb END
$$;

-- Why a split payment of `p_amount` from `p_payer` to the payees `p_payees` (their parts
-- `p_amounts`, same order) is declined, or NULL: the rule of ledger_authorize_refusal with every
-- payee in the payee's place: all accounts in the payment's currency, then the payer's funds for
-- the whole amount (one decision), then each payee's int64 room for its part.
CREATE OR REPLACE FUNCTION ledger_split_refusal(p_payer balances, p_payees balances[], p_amounts bigint[], p_currency text, p_amount bigint)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v_reason text;
BEGIN
  IF p_payer.currency <> p_currency THEN RETURN 'CURRENCY_MISMATCH'; END IF;
  FOR n IN 1 .. cardinality(p_payees) LOOP
    IF (p_payees[n]).currency <> p_currency THEN RETURN 'CURRENCY_MISMATCH'; END IF;
  END LOOP;
  v_reason := ledger_debit_refusal(p_payer, p_amount);
  FOR n IN 1 .. cardinality(p_payees) LOOP
    EXIT WHEN v_reason IS NOT NULL;
    v_reason := ledger_credit_refusal(p_payees[n], p_amounts[n]);
  END LOOP;
  RETURN v_reason;
END;
$$;

-- The split rule, the one home of how a split payment's partial capture and its refunds are
-- divided between its payees: `p_amount` (0 <= p_amount <= the weights' sum) in proportion to
-- `p_weights` (each >= 0; the legs' amounts for a capture, what each leg can still give back for a
-- refund). Each leg first gets floor(p_amount * weight / sum); the cents left over (fewer than the
-- legs) go one each to the legs with the largest remainders, ties to the earlier leg. So the shares
-- sum to p_amount exactly and none exceeds its weight. Computed in numeric: p_amount * weight may
-- exceed int64.
CREATE OR REPLACE FUNCTION ledger_split_shares(p_amount bigint, p_weights bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
  WITH w AS (
    SELECT ord, weight::numeric AS weight, sum(weight::numeric) OVER () AS total FROM unnest(p_weights) WITH ORDINALITY u(weight, ord)
  ), q AS (
    SELECT ord, CASE WHEN total = 0 THEN 0 ELSE div(p_amount * weight, total) END AS base,
           CASE WHEN total = 0 THEN 0 ELSE mod(p_amount * weight, total) END AS remainder
      FROM w
  ), r AS (
    SELECT ord, base, row_number() OVER (ORDER BY remainder DESC, ord) AS rank, p_amount - sum(base) OVER () AS left_over FROM q
  )
  SELECT array_agg((base + CASE WHEN rank <= left_over THEN 1 ELSE 0 END)::bigint ORDER BY ord) FROM r
$$;
