-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Tenant confinement (issue 21, docs/tenants.md): the one decision whether an item of ledger_apply
-- may touch the accounts it names. ledger_apply calls it once per batch, right after it locked the
-- batch's balance rows, with each locked row's tenant (balances.tenant_id, read by the locking
-- statement itself: no further read of accounts or balances). An item is refused when it touches a
-- customer account of another tenant than its own (`tenantId`, absent: the default tenant): the
-- accounts it names, and the payer, payee and split payees of the payment it acts on. The refusal
-- is exactly the one a missing account or payment gets (same code, field and message), so another
-- tenant's ids are not revealed. Funding accounts are the ledger's own (default tenant): exempt.
-- An account token's items carry `accountIds`: the item's own account must be one of them
-- (deposit, withdraw, limit, update_account, close, open: accountId; authorize: the payer;
-- capture: the payer; void, refund: a payee; update_payment: the payer or a payee), else the
-- same not-found refusal. `expire` items are the sweeper's (the service's own): exempt.
-- An `open` of an id that another tenant holds gets ACCOUNT_ALREADY_EXISTS worded as
-- ledger_cmd_open words it (ids are unique in the whole ledger: the id is taken either way).

-- NULL when every item may go on (the common case, decided without looking at items one by one
-- beyond one pass), else one element per item: its refusal, or JSON null when it may go on.
-- `p_accounts` are the locked ids and `p_tenants` their tenants, same order ('' for a funding
-- account, NULL for an id without a balance row).
CREATE OR REPLACE FUNCTION ledger_confinement_refusals(p_items jsonb, p_accounts text[], p_tenants text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_tenant text := coalesce(p_items->0->>'tenantId', 'default');
  v_of jsonb;
  v_refusals jsonb;
BEGIN
  -- One tenant for every item and every locked customer row, no account token: nothing to refuse.
  IF NOT EXISTS (SELECT 1 FROM unnest(p_tenants) t WHERE t <> '' AND t <> v_tenant)
     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) i
                      WHERE i ? 'accountIds' OR coalesce(i->>'tenantId', 'default') <> v_tenant) THEN
    RETURN NULL;
  END IF;
  v_of := (SELECT jsonb_object_agg(a, t) FROM unnest(p_accounts, p_tenants) u(a, t) WHERE t IS NOT NULL);
  v_refusals := (SELECT jsonb_agg(coalesce(ledger_confinement_refusal(i, v_of), 'null'::jsonb) ORDER BY o)
                   FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, o));
  -- NULL again when nothing is refused (ledger_apply then runs the batch as it is).
  RETURN CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(v_refusals) r WHERE r <> 'null'::jsonb) THEN v_refusals END;
END;
$$;

-- The refusal of one item, or NULL. `p_of` maps each locked account id to its tenant ('' funding).
CREATE OR REPLACE FUNCTION ledger_confinement_refusal(p_item jsonb, p_of jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_kind text := p_item->>'kind';
  v_tenant text := coalesce(p_item->>'tenantId', 'default');
  v_limited boolean := p_item ? 'accountIds';
  v_listed text[] := ARRAY(SELECT jsonb_array_elements_text(p_item->'accountIds'));
  v_payment payments%ROWTYPE;
  v_parties text[];
  v_leg jsonb;
  v_n int := 0;
BEGIN
  IF v_kind = 'expire' THEN RETURN NULL; END IF;
  -- Another tenant's account, counted as missing; funding ('') and missing ids pass here (the
  -- command refuses a missing one itself).
  IF v_kind = 'open' THEN
    IF coalesce(p_of->>(p_item->>'accountId'), v_tenant) NOT IN (v_tenant, '') THEN
      RETURN ledger_error('ACCOUNT_ALREADY_EXISTS', 'account_id', format(
        'account_id: account %s already exists with a different currency, display name or metadata', p_item->>'accountId'));
    END IF;
    IF v_limited AND NOT p_item->>'accountId' = ANY (v_listed) THEN
      RETURN ledger_missing_account('account_id', p_item->>'accountId');
    END IF;
    RETURN NULL;
  END IF;
  IF v_kind IN ('deposit', 'withdraw', 'limit', 'update_account', 'close') THEN
    IF coalesce(p_of->>(p_item->>'accountId'), v_tenant) NOT IN (v_tenant, '')
       OR (v_limited AND NOT p_item->>'accountId' = ANY (v_listed)) THEN
      RETURN ledger_missing_account('account_id', p_item->>'accountId');
    END IF;
    RETURN NULL;
  END IF;
  IF v_kind = 'authorize' THEN
    IF coalesce(p_of->>(p_item->>'payerAccountId'), v_tenant) NOT IN (v_tenant, '')
       OR (v_limited AND NOT p_item->>'payerAccountId' = ANY (v_listed)) THEN
      RETURN ledger_missing_account('payer_account_id', p_item->>'payerAccountId');
    END IF;
    IF coalesce(p_of->>(p_item->>'payeeAccountId'), v_tenant) NOT IN (v_tenant, '') THEN
      RETURN ledger_missing_account('payee_account_id', p_item->>'payeeAccountId');
    END IF;
    FOR v_leg IN SELECT * FROM jsonb_array_elements(coalesce(p_item->'splits', '[]')) LOOP
      IF coalesce(p_of->>(v_leg->>'payeeAccountId'), v_tenant) NOT IN (v_tenant, '') THEN
        RETURN ledger_missing_account(format('splits[%s].payee_account_id', v_n), v_leg->>'payeeAccountId');
      END IF;
      v_n := v_n + 1;
    END LOOP;
    RETURN NULL;
  END IF;
  -- capture, void, refund, update_payment: the payment's parties (a missing payment passes: the
  -- command answers PAYMENT_NOT_FOUND itself).
  SELECT * INTO v_payment FROM payments WHERE id = p_item->>'paymentId';
  IF NOT FOUND THEN RETURN NULL; END IF;
  v_parties := ARRAY[v_payment.payer_account_id, v_payment.payee_account_id]
            || ARRAY(SELECT l.payee_account_id FROM payment_splits l WHERE l.payment_id = v_payment.id);
  -- A token acts on a payment only through the account the command takes from: a capture takes
  -- the payer's held money, a void and a refund take from the payee (the hold it was owed, the money
  -- it received); metadata (update_payment) may be changed by either party.
  IF EXISTS (SELECT 1 FROM unnest(v_parties) a WHERE a IS NOT NULL AND coalesce(p_of->>a, v_tenant) NOT IN (v_tenant, ''))
     OR (v_limited AND NOT CASE v_kind
           WHEN 'capture' THEN ARRAY[v_payment.payer_account_id] && v_listed
           WHEN 'update_payment' THEN v_parties && v_listed
           ELSE v_parties[2:] && v_listed END) THEN
    RETURN ledger_error('PAYMENT_NOT_FOUND', 'payment_id', format('payment_id: payment %s does not exist', p_item->>'paymentId'));
  END IF;
  RETURN NULL;
END;
$$;
