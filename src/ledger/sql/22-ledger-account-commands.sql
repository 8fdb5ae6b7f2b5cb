-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- The account commands of ledger_apply (30-ledger-apply.sql), so that every write of the ledger,
-- and every outbox event, goes through that one function. `open` and `limit` carry no idempotency
-- key: opening an account with a caller-chosen id is itself idempotent (the same id with the same
-- attributes answers the existing account), and setting a limit to a value is. `update_account`
-- (metadata, with or without a limit) and `close` are keyed: each emits an event.

-- Open: an account and its zero balance row, and AccountCreated (funding accounts, which the
-- deposits and payouts of a currency go through, are opened the same way, without an event).
-- An id that exists answers {"replayed": true} with that account when currency, display name and
-- metadata are the same, else ACCOUNT_ALREADY_EXISTS.
CREATE OR REPLACE FUNCTION ledger_cmd_open(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_item->>'accountId';
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_funding boolean := coalesce(p_item->>'funding', 'false') = 'true';
  v_metadata jsonb := coalesce(p_item->'metadata', '{}');
  -- The caller's tenant (ledger_apply refused the item if the id is another tenant's); funding
  -- accounts are the ledger's own: the default tenant.
  v_tenant text := CASE WHEN v_funding THEN 'default' ELSE coalesce(p_item->>'tenantId', 'default') END;
  v_account accounts%ROWTYPE;
  v_existing accounts%ROWTYPE;
BEGIN
  INSERT INTO accounts (id, currency, display_name, is_funding, created_at, metadata, tenant_id)
    VALUES (v_id, p_item->>'currency', p_item->>'displayName', v_funding, v_at, v_metadata, v_tenant)
    ON CONFLICT (id) DO NOTHING
    RETURNING * INTO v_account;
  IF NOT FOUND THEN
    SELECT * INTO v_existing FROM accounts WHERE id = v_id;
    IF v_existing.currency = p_item->>'currency' AND v_existing.display_name = p_item->>'displayName' AND v_existing.tenant_id = v_tenant
       AND (v_funding OR v_existing.metadata = v_metadata) THEN
      RETURN jsonb_build_object('replayed', true, 'result', ledger_account_json(v_existing));
    END IF;
    RETURN ledger_error('ACCOUNT_ALREADY_EXISTS', 'account_id',
      format('account_id: account %s already exists with a different currency, display name or metadata', v_id));
  END IF;
  INSERT INTO balances (account_id, currency, allow_negative, overdraft_limit_cents, updated_at, tenant_id)
    VALUES (v_id, p_item->>'currency', v_funding, coalesce((p_item->>'overdraftLimitCents')::bigint, 0), v_at, v_tenant);
  IF NOT v_funding THEN
    PERFORM ledger_emit(p_item, 'AccountCreated', 'account', v_id, jsonb_build_object('accountId', v_id,
      'currency', p_item->'currency', 'displayName', p_item->'displayName', 'createdAt', p_item->'at', 'metadata', v_metadata,
      'tenantId', v_tenant));
  END IF;
  RETURN jsonb_build_object('result', ledger_account_json(v_account));
END;
$$;

-- The stored form of AccountRecord (src/ledger/ledger-core.ts): the account row, and its status
-- from its balance row (closed_at lives there, where the money commands read it). Index plans
-- only, as ledger_payment_json's (10-ledger-helpers.sql): ListAccounts calls it per account.
CREATE OR REPLACE FUNCTION ledger_account_json(p_account accounts) RETURNS jsonb
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
DECLARE
  v_closed timestamptz;
BEGIN
  SELECT closed_at INTO v_closed FROM balances WHERE account_id = p_account.id;
  RETURN jsonb_build_object('accountId', p_account.id, 'tenantId', p_account.tenant_id, 'currency', p_account.currency, 'displayName', p_account.display_name,
    'createdAt', jsonb_build_object('$date', ledger_iso(p_account.created_at)), 'metadata', p_account.metadata,
    'status', CASE WHEN v_closed IS NULL THEN 'OPEN' ELSE 'CLOSED' END,
    'closedAt', CASE WHEN v_closed IS NULL THEN NULL ELSE jsonb_build_object('$date', ledger_iso(v_closed)) END);
END;
$$;

-- Why an account command may not act on the balance row it read (all NULL when there is none), or
-- NULL: the account is missing (funding accounts count as missing: they are the ledger's own).
CREATE OR REPLACE FUNCTION ledger_customer_refusal(p_row balances, p_account_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_row.account_id IS NULL OR p_row.allow_negative THEN ledger_missing_account('account_id', p_account_id) END
$$;

-- Sets the overdraft limit of `p_row` (locked), or answers why not: a closed account takes no
-- limit (it takes no money), and a limit below what the account already overdraws is refused (the
-- rule balances_within_overdraft also enforces).
CREATE OR REPLACE FUNCTION ledger_set_limit(p_row balances, p_limit bigint, p_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_closed jsonb := ledger_closed_refusal(p_row, 'account_id');
BEGIN
  IF v_closed IS NOT NULL THEN RETURN v_closed; END IF;
  IF p_row.available_cents < -p_limit THEN
    RETURN ledger_error('OVERDRAFT_LIMIT_TOO_LOW', 'overdraft_limit_cents', format(
      'overdraft_limit_cents: account %s has %s available; the limit cannot be below %s', p_row.account_id, p_row.available_cents,
      -p_row.available_cents));
  END IF;
  UPDATE balances SET overdraft_limit_cents = p_limit, version = version + 1, updated_at = p_at WHERE account_id = p_row.account_id;
  RETURN NULL;
END;
$$;

-- The stored result of `limit` and `update_account`: the limit in force and the account.
CREATE OR REPLACE FUNCTION ledger_account_update_json(p_account_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT jsonb_build_object('accountId', b.account_id,
      'overdraftLimitCents', jsonb_build_object('$bigint', b.overdraft_limit_cents::text), 'account', ledger_account_json(a))
    FROM balances b JOIN accounts a ON a.id = b.account_id WHERE b.account_id = p_account_id);
END;
$$;

-- Limit: sets a customer account's overdraft limit under its balance row lock.
CREATE OR REPLACE FUNCTION ledger_cmd_limit(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances;
  v_error jsonb;
BEGIN
  SELECT * INTO v_row FROM balances WHERE account_id = p_item->>'accountId';
  v_error := ledger_customer_refusal(v_row, p_item->>'accountId');
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  v_error := ledger_set_limit(v_row, (p_item->>'overdraftLimitCents')::bigint, (p_item->>'at')::timestamptz);
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  RETURN jsonb_build_object('result', ledger_account_update_json(v_row.account_id));
END;
$$;

-- Update (keyed): replaces the metadata of an account (open or closed: metadata is no money) and
-- sets its overdraft limit when the item carries one; AccountUpdated.
CREATE OR REPLACE FUNCTION ledger_cmd_update_account(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances;
  v_error jsonb;
  v_at timestamptz := (p_item->>'at')::timestamptz;
  v_result jsonb;
BEGIN
  SELECT * INTO v_row FROM balances WHERE account_id = p_item->>'accountId';
  v_error := ledger_customer_refusal(v_row, p_item->>'accountId');
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  IF jsonb_typeof(p_item->'overdraftLimitCents') = 'string' THEN
    v_error := ledger_set_limit(v_row, (p_item->>'overdraftLimitCents')::bigint, v_at);
    IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  END IF;
  IF jsonb_typeof(p_item->'metadata') = 'object' THEN
    UPDATE accounts SET metadata = p_item->'metadata' WHERE id = v_row.account_id;
  END IF;
  v_result := ledger_account_update_json(v_row.account_id);
  PERFORM ledger_emit(p_item, 'AccountUpdated', 'account', v_row.account_id, jsonb_build_object(
    'accountId', v_row.account_id, 'metadata', v_result->'account'->'metadata',
    'overdraftLimitCents', v_result->'overdraftLimitCents'->>'$bigint', 'updatedAt', p_item->'at'));
  RETURN jsonb_build_object('result', v_result);
END;
$$;

-- Close (keyed): a customer account with nothing in it (available, held and overdraft use all
-- zero) is closed from now on: its balance row gets closed_at, which every money command checks
-- under the same lock (ledger_closed_refusal, 10-ledger-helpers.sql); AccountClosed. Closing a
-- closed account answers it as it is (closed_at of the first close), with no event.
CREATE OR REPLACE FUNCTION ledger_cmd_close(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_row balances;
  v_error jsonb;
  v_at timestamptz := (p_item->>'at')::timestamptz;
BEGIN
  SELECT * INTO v_row FROM balances WHERE account_id = p_item->>'accountId';
  v_error := ledger_customer_refusal(v_row, p_item->>'accountId');
  IF v_error IS NOT NULL THEN RETURN v_error; END IF;
  IF v_row.closed_at IS NULL THEN
    IF v_row.available_cents < 0 THEN
      RETURN ledger_error('ACCOUNT_NOT_EMPTY', 'account_id', format(
        'account_id: account %s uses %s of its overdraft; bring its available balance to 0 before closing it', v_row.account_id, -v_row.available_cents));
    END IF;
    IF v_row.held_cents <> 0 THEN
      RETURN ledger_error('ACCOUNT_NOT_EMPTY', 'account_id', format(
        'account_id: account %s has %s held by open holds; capture, void or let them expire before closing it', v_row.account_id, v_row.held_cents));
    END IF;
    IF v_row.available_cents <> 0 THEN
      RETURN ledger_error('ACCOUNT_NOT_EMPTY', 'account_id', format(
        'account_id: account %s has %s available; pay it out (WithdrawFunds) before closing it', v_row.account_id, v_row.available_cents));
    END IF;
    UPDATE balances SET closed_at = v_at, version = version + 1, updated_at = v_at WHERE account_id = v_row.account_id;
    PERFORM ledger_emit(p_item, 'AccountClosed', 'account', v_row.account_id, jsonb_build_object(
      'accountId', v_row.account_id, 'currency', v_row.currency, 'closedAt', p_item->'at',
      'metadata', (SELECT metadata FROM accounts WHERE id = v_row.account_id)));
  END IF;
  RETURN jsonb_build_object('result', (SELECT ledger_account_json(a) FROM accounts a WHERE a.id = v_row.account_id));
END;
$$;

-- Update a payment (keyed): replaces its metadata (any status: metadata is no money), the one
-- column of payments that may change (the append-only trigger, migration 0009); PaymentUpdated.
CREATE OR REPLACE FUNCTION ledger_cmd_update_payment(p_item jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_payment payments%ROWTYPE;
BEGIN
  UPDATE payments SET metadata = p_item->'metadata' WHERE id = p_item->>'paymentId' RETURNING * INTO v_payment;
  IF NOT FOUND THEN
    RETURN ledger_error('PAYMENT_NOT_FOUND', 'payment_id', format('payment_id: payment %s does not exist', p_item->>'paymentId'));
  END IF;
  PERFORM ledger_emit(p_item, 'PaymentUpdated', 'payment', v_payment.id, jsonb_build_object('paymentId', v_payment.id,
    'payerAccountId', v_payment.payer_account_id, 'payeeAccountId', coalesce(v_payment.payee_account_id, ''), 'metadata', v_payment.metadata,
    'updatedAt', p_item->'at'));
  RETURN jsonb_build_object('result', ledger_payment_json(v_payment.id));
END;
$$;
