-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- What an authorization decides and writes, shared by the per-item command (ledger_cmd_authorize,
-- 20-ledger-commands.sql) and the set-based batch path (ledger_apply_authorizations,
-- 25-ledger-apply-authorizations.sql), so each rule exists once whichever path runs it.

-- Why a payment of `p_amount` in `p_currency` from `p_payer` to `p_payee` is declined, or NULL:
-- both accounts in the payment's currency, then the payer's funds, then the payee's int64 room.
CREATE OR REPLACE FUNCTION ledger_authorize_refusal(p_payer balances, p_payee balances, p_currency text, p_amount bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_payer.currency <> p_currency OR p_payee.currency <> p_currency THEN 'CURRENCY_MISMATCH'
              ELSE coalesce(ledger_debit_refusal(p_payer, p_amount), ledger_credit_refusal(p_payee, p_amount)) END
$$;

-- The refusal of an authorization naming a closed payer or payee (ledger_closed_refusal), or NULL.
CREATE OR REPLACE FUNCTION ledger_authorize_closed(p_payer balances, p_payee balances) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(ledger_closed_refusal(p_payer, 'payer_account_id'), ledger_closed_refusal(p_payee, 'payee_account_id'))
$$;

-- The refusal of an item naming an account that does not exist (`p_field` is the request field).
CREATE OR REPLACE FUNCTION ledger_missing_account(p_field text, p_account_id text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT ledger_error('ACCOUNT_NOT_FOUND', p_field, format('%s: account %s does not exist', p_field, p_account_id))
$$;

-- The payload of the PaymentAuthorized / PaymentDeclined event of an authorize item.
CREATE OR REPLACE FUNCTION ledger_authorize_payload(p_item jsonb, p_reason text, p_expires timestamptz) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('paymentId', p_item->'paymentId', 'payerAccountId', p_item->'payerAccountId',
      'payeeAccountId', p_item->'payeeAccountId', 'amountCents', p_item->'amountCents', 'currency', p_item->'currency',
      'description', p_item->'description', 'createdAt', p_item->'at', 'captureMethod', p_item->'captureMethod',
      'metadata', coalesce(p_item->'metadata', '{}'))
    || CASE WHEN p_reason IS NOT NULL THEN jsonb_build_object('declineReason', p_reason)
            WHEN p_item->>'captureMethod' = 'MANUAL' THEN jsonb_build_object('holdExpiresAt', ledger_iso(p_expires))
            ELSE '{}'::jsonb END
$$;
