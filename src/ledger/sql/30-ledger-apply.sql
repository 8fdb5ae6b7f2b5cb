-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- ledger_apply: the one path of every write of the ledger, so SQL is the only outbox writer: the
-- money-moving commands (deposit, authorize, capture, void, expire, refund, withdraw) and the
-- account and metadata commands (open, limit, update_account, close, update_payment), called by the group-commit batcher (src/ledger/payment-batch.ts)
-- with a batch of commands. One statement per batch: the balance rows are locked once, in account-id
-- order, and no client round trip happens while they are held.
--
-- Items run in order. Each carries kind, clientId, key, method, requestHash, at (ISO time),
-- eventId, traceparent, the caller (tenantId, keyId, tokenId, an account token's accountIds) and
-- its command's fields (see src/ledger/commands.ts). Every path's outcomes pass through
-- ledger_audit (32-ledger-audit.sql: one audit row per applied item). Each gets one outcome:
--   {"replayed": true, "result"}             its key was live for the same request: the first call's result
--   {"replayed": false, "result"}            done now (declines included)
--   {"error": {"code", "field", "message"}}  refused (IDEMPOTENCY_KEY_REUSED for a live key of another
--                                            request, ledger_replay); nothing was written
-- These shapes, the items' and the stored results' are declared once, in src/ledger/ledger-core.ts.
-- Idempotency: a live key answers as a replay (ledger_replay) before the command runs; otherwise
-- the key is written once, with the result, after the command (a refusal writes no key). A key
-- another transaction wrote meanwhile (the same key sent twice at once, on any instance) makes
-- that insert find a live key: the batch is rolled back with a serialization failure, retried by
-- the caller (src/ledger/transient-retry.ts), and its retry answers the item as a replay.
-- `expire` items (from the sweeper), `open` and `limit` items have no key.
-- Index plans only (SET enable_seqscan = off, for every statement this call runs, nested ones
-- included): each statement's plan is made once per session and kept, from the statistics of the
-- moment. Made while a table was small (a new ledger, or statistics taken then), it scanned the
-- whole table for one key: every call read all payments, a key's update all idempotency keys,
-- and the set path all balances twice and payments and payment states once per item
-- (docs/write-path.md, "Plans that do not depend on table sizes"). Every row the write path reads
-- is found by a key it has, so a sequential scan is never the plan it wants.
CREATE OR REPLACE FUNCTION ledger_apply(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  v_item jsonb;
  v_outcomes jsonb[] := '{}';
  v_claimed text;
  v_out jsonb;
  v_accounts text[];
  v_acted text[];
  v_account text;
  v_tenant text;
  v_tenants text[] := '{}';
  v_refusals jsonb;
  v_rest jsonb;
BEGIN
  -- Every balance row of the batch, in account-id order: the accounts named by the commands and
  -- the payer and payee of the payments they act on (payments are immutable: no lock needed). This
  -- is the only serialisation: batches over disjoint accounts commit in parallel (on any instance),
  -- batches sharing accounts wait for each other here, and one global order means no deadlock.
  -- Everything the items then write per account (line and step numbers, the chain) comes from
  -- these rows (12-ledger-lines.sql), so it is in commit order per account.
  -- The ids are collected first, then each row is locked by its own primary-key lookup, in order.
  -- With the ids computed inside one locking statement, a batch that waited here for another one
  -- re-checked each row the other had updated (EvalPlanQual) at about 1 ms per row: 1.3-1.6 s to
  -- lock 1,000 rows after a wait, against 12-17 ms now, and that statement was planned again on
  -- every call (docs/write-path.md). The lookup's plan is cached for the session.
  v_accounts := ARRAY(
    SELECT DISTINCT a FROM (
      SELECT a FROM jsonb_array_elements(p_items) i,
                    unnest(ARRAY[i->>'accountId', i->>'fundingAccountId', i->>'payerAccountId', i->>'payeeAccountId']) a
      UNION ALL
      -- The payees of split payments authorized now.
      SELECT s->>'payeeAccountId' FROM jsonb_array_elements(p_items) i, jsonb_array_elements(i->'splits') s) ids
     WHERE a IS NOT NULL
     ORDER BY a);
  -- The payer, payee and split payees of the payments acted on (not for authorizations: the
  -- payments they name are new, so a batch of them reads no payment here). Found with `= ANY`, one
  -- index probe per payment: joined with unnest(v_acted), the kept plan was a hash join over
  -- every payment (and every split), a cost that grew with the ledger (test/ledger/sql-plans.test.ts).
  v_acted := ARRAY(SELECT i->>'paymentId' FROM jsonb_array_elements(p_items) i WHERE i->>'kind' <> 'authorize' AND i ? 'paymentId');
  IF v_acted <> '{}' THEN
    v_accounts := ARRAY(
      SELECT DISTINCT a FROM (
        SELECT unnest(v_accounts) a
        UNION ALL
        SELECT unnest(ARRAY[p.payer_account_id, p.payee_account_id]) FROM payments p WHERE p.id = ANY (v_acted)
        UNION ALL
        SELECT l.payee_account_id FROM payment_splits l WHERE l.payment_id = ANY (v_acted)) ids
       WHERE a IS NOT NULL
       ORDER BY a);
  END IF;
  -- Each locked row's tenant ('' for a funding account, NULL without a row) for the confinement.
  FOREACH v_account IN ARRAY v_accounts LOOP
    v_tenant := NULL;
    SELECT CASE WHEN allow_negative THEN '' ELSE tenant_id END INTO v_tenant FROM balances WHERE account_id = v_account FOR UPDATE;
    v_tenants := v_tenants || v_tenant;
  END LOOP;
  -- Tenant confinement (28-ledger-confinement.sql): items touching another tenant's accounts, or
  -- outside an account token's accounts, are refused as if the account or payment were missing.
  -- The others run as a batch of their own (the locks are held already; the set path still applies)
  -- and the outcomes are spliced back in order. A refused item claims no key and writes nothing.
  v_refusals := ledger_confinement_refusals(p_items, v_accounts, v_tenants);
  IF v_refusals IS NOT NULL THEN
    v_rest := (SELECT jsonb_agg(i ORDER BY o) FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, o)
                WHERE v_refusals->(o::int - 1) = 'null'::jsonb);
    v_rest := CASE WHEN v_rest IS NULL THEN '[]'::jsonb ELSE ledger_apply(v_rest, p_ttl_hours) END;
    RETURN (SELECT jsonb_agg(CASE WHEN r = 'null'::jsonb THEN v_rest->(k - 1) ELSE r END ORDER BY o)
              FROM (SELECT r, o, (count(*) FILTER (WHERE r = 'null'::jsonb) OVER (ORDER BY o))::int AS k
                      FROM jsonb_array_elements(v_refusals) WITH ORDINALITY e(r, o)) x);
  END IF;
  -- No NOTIFY here: the service sends it after the commit (src/ledger/change-notifier.ts).

  -- Authorizations only (payments under load, AuthorizePayments): decided in order, written in sets.
  -- Not below 4 items (8 for the other kinds, below): a set path's statements have a fixed cost
  -- per call (hash joins, sorts and CTEs sized for many rows) that the per-item loop does not pay
  -- for a few items; npm run bench:function prints both paths' cost per item by batch size, and
  -- these are where the set path began to cost less (docs/write-path.md).
  -- `SET ledger.per_item_path = on` forces the per-item loop below: the reference path, for
  -- comparing the two (test/ledger/apply-paths.test.ts) or ruling the set path out when diagnosing.
  -- Split payments take the per-item path (ledger_cmd_authorize_split): a batch with one runs
  -- item by item, so the set path knows nothing of splits and stays as it is.
  -- (The size is tested on its own first: a simple expression, so a small batch pays for no query.)
  IF jsonb_array_length(p_items) >= 4 AND coalesce(current_setting('ledger.per_item_path', true), '') <> 'on' THEN
    IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) i WHERE i->>'kind' <> 'authorize' OR i ? 'splits') THEN
      RETURN ledger_audit(p_items, ledger_apply_authorizations(p_items, p_ttl_hours));
    END IF;
    -- Any mix of authorizations, deposits, payouts, captures, voids, expiries and refunds: decided
    -- in order, written in sets (26-ledger-apply-moves.sql), from 8 items. NULL: the batch acts on
    -- a split payment, and the loop below takes it.
    IF jsonb_array_length(p_items) >= 8 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) i
                    WHERE i->>'kind' NOT IN ('authorize', 'deposit', 'withdraw', 'capture', 'void', 'expire', 'refund') OR i ? 'splits') THEN
      v_out := ledger_apply_moves(p_items, p_ttl_hours);
      IF v_out IS NOT NULL THEN RETURN ledger_audit(p_items, v_out); END IF;
    END IF;
  END IF;

  FOR v_item IN SELECT * FROM jsonb_array_elements(p_items) LOOP
    -- Keyless items: expire (the sweeper), open and limit (22-ledger-account-commands.sql).
    -- The key's expiry is read from the row found by its primary key (see the same probe in
    -- 25-ledger-apply-authorizations.sql for why it is not in the WHERE clause).
    IF v_item->>'key' IS NOT NULL THEN
      SELECT CASE WHEN k.expires_at > now() THEN ledger_replay(v_item, k.method, k.request_hash, k.result) END INTO v_out
        FROM idempotency_keys k WHERE k.client_id = v_item->>'clientId' AND k.key = v_item->>'key';
      IF v_out IS NOT NULL THEN
        v_outcomes := v_outcomes || v_out;
        CONTINUE;
      END IF;
    END IF;

    v_out := CASE v_item->>'kind'
      WHEN 'open' THEN ledger_cmd_open(v_item)
      WHEN 'limit' THEN ledger_cmd_limit(v_item)
      WHEN 'deposit' THEN ledger_cmd_deposit(v_item)
      WHEN 'authorize' THEN CASE WHEN v_item ? 'splits' THEN ledger_cmd_authorize_split(v_item) ELSE ledger_cmd_authorize(v_item) END
      WHEN 'capture' THEN ledger_cmd_capture(v_item)
      WHEN 'void' THEN ledger_cmd_release(v_item)
      WHEN 'expire' THEN ledger_cmd_release(v_item)
      WHEN 'refund' THEN ledger_cmd_refund(v_item)
      WHEN 'withdraw' THEN ledger_cmd_withdraw(v_item)
      WHEN 'update_account' THEN ledger_cmd_update_account(v_item)
      WHEN 'close' THEN ledger_cmd_close(v_item)
      WHEN 'update_payment' THEN ledger_cmd_update_payment(v_item)
    END;
    IF v_out IS NULL THEN RAISE EXCEPTION 'ledger_apply: unknown command kind %', v_item->>'kind'; END IF;

    -- One write per key, its result included (claiming it first, then storing the result, wrote
    -- the row twice, and a refusal then deleted it: docs/write-path.md).
    IF v_item->>'key' IS NOT NULL AND NOT v_out ? 'error' THEN
      v_claimed := NULL;
      INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
        VALUES (v_item->>'clientId', v_item->>'key', v_item->>'method', v_item->>'requestHash', v_out->'result',
                now() + make_interval(hours => p_ttl_hours))
        ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
          result = excluded.result, created_at = now(), expires_at = excluded.expires_at
        WHERE k.expires_at <= now()
        RETURNING k.key INTO v_claimed;
      IF v_claimed IS NULL THEN
        RAISE EXCEPTION 'idempotency key % was claimed concurrently', v_item->>'key' USING ERRCODE = 'serialization_failure';
      END IF;
    END IF;
    v_outcomes := v_outcomes || CASE WHEN v_out ? 'error' THEN v_out
                                     ELSE jsonb_build_object('replayed', coalesce(v_out->'replayed', 'false'), 'result', v_out->'result') END;
  END LOOP;
  RETURN ledger_audit(p_items, to_jsonb(v_outcomes));
END;
$$;
