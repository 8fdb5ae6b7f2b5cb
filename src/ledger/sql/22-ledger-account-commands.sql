-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- The account commands of ledger_apply (30-ledger-apply.sql), so that every write of the ledger,
-- and every outbox event, goes through that one function. They carry no idempotency key: opening
-- an account with a caller-chosen id is itself idempotent (the same id with the same attributes
-- answers the existing account), and setting a limit to a value is.

-- Open: an account and its zero balance row, and AccountCreated (funding accounts, which the
-- deposits and payouts of a currency go through, are opened the same way, without an event).
-- An id that exists answers {"replayed": true} with that account when currency and display name
-- are the same, else ACCOUNT_ALREADY_EXISTS.
CREATE OR REPLACE FUNCTION ledger_cmd_open(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_item->>'accountId';
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_funding boolean := coalesce(p_item->>'funding', 'false') = 'true';
  v_account accounts%ROWTYPE;
  v_existing accounts%ROWTYPE;
BEGIN
  INSERT INTO accounts (id, currency, display_name, is_funding, created_at)
    VALUES (v_id, p_item->>'currency', p_item->>'displayName', v_funding, v_at)
    ON CONFLICT (id) DO NOTHING
    RETURNING * INTO v_account;
  IF NOT FOUND THEN
    SELECT * INTO v_existing FROM accounts WHERE id = v_id;
    IF v_existing.currency = p_item->>'currency' AND v_existing.display_name = p_item->>'displayName' THEN
      RETURN jsonb_build_object('replayed', true, 'result', ledger_account_json(v_existing));
    END IF;
    RETURN ledger_error('ACCOUNT_ALREADY_EXISTS', 'account_id',
      format('account_id: account %s already exists with a different currency or display name', v_id));
  END IF;
  INSERT INTO balances (account_id, currency, allow_negative, overdraft_limit_cents, updated_at)
    VALUES (v_id, p_item->>'currency', v_funding, coalesce((p_item->>'overdraftLimitCents')::bigint, 0), v_at);
  IF NOT v_funding THEN
    PERFORM ledger_emit(p_item, 'AccountCreated', 'account', v_id, jsonb_build_object('accountId', v_id,
      'currency', p_item->'currency', 'displayName', p_item->'displayName', 'createdAt', p_item->'at'));
  END IF;
  RETURN jsonb_build_object('result', ledger_account_json(v_account));
END;
$$;

-- The stored form of AccountRecord (src/ledger/ledger-core.ts).
CREATE OR REPLACE FUNCTION ledger_account_json(p_account accounts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('accountId', p_account.id, 'currency', p_account.currency, 'displayName', p_account.display_name,
    'createdAt', jsonb_build_object('$date', ledger_iso(p_account.created_at)))
$$;

-- Limit: sets a customer account's overdraft limit under its balance row lock. A limit below what
-- the account already overdraws is refused (the rule balances_within_overdraft also enforces).
CREATE OR REPLACE FUNCTION ledger_cmd_limit(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances%ROWTYPE;
  v_limit bigint := (p_item->>'overdraftLimitCents')::bigint;
BEGIN
  SELECT * INTO v_row FROM balances WHERE account_id = p_item->>'accountId';
  IF NOT FOUND OR v_row.allow_negative THEN RETURN ledger_missing_account('account_id', p_item->>'accountId'); END IF;
  IF v_row.available_cents < -v_limit THEN
    RETURN ledger_error('OVERDRAFT_LIMIT_TOO_LOW', 'overdraft_limit_cents', format(
      'overdraft_limit_cents: account %s has %s available; the limit cannot be below %s', v_row.account_id, v_row.available_cents,
      -v_row.available_cents));
  END IF;
  UPDATE balances SET overdraft_limit_cents = v_limit, version = version + 1, updated_at = (p_item->>'at')::timestamptz
    WHERE account_id = v_row.account_id;
  RETURN jsonb_build_object('result', jsonb_build_object('accountId', v_row.account_id,
    'overdraftLimitCents', jsonb_build_object('$bigint', v_limit::text)));
END;
$$;
