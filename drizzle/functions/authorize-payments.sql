-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- The AuthorizePayment fast path: a batch of authorizations in one statement, so the balance rows
-- are locked once per batch and no client round trip happens while they are held (group commit).
-- Semantics are those of the transactional path (src/ledger/idempotency.ts withIdempotency around
-- the payment steps), item by item and in order: a live idempotency key replays its stored result;
-- otherwise both accounts must exist, the decision is taken under the lock (currency, funds), the
-- key is claimed with its result, the payment recorded, the money moved with two entries and the
-- event appended.
-- Each item of p_items (jsonb array) carries: clientId, key, requestHash, paymentId, payerAccountId,
-- payeeAccountId, amountCents (string), currency, description, createdAt (ISO string), eventId,
-- traceparent (or null). Returns a jsonb array with one outcome per item, in order:
--   {"replayed": true, "result", "method", "requestHash"}  the key was live: its stored result;
--   {"replayed": false, "result"}                           done now (result as stored under the key);
--   {"missing": "payer_account_id" | "payee_account_id"}    nothing was written for this item.
CREATE OR REPLACE FUNCTION ledger_authorize_payments(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_item jsonb;
  v_outcomes jsonb[] := '{}';
  v_claimed text;
  v_payer balances%ROWTYPE;
  v_payee balances%ROWTYPE;
  v_amount bigint;
  v_at timestamptz;
  v_reason text;
  v_status text;
  v_payload jsonb;
  v_result jsonb;
BEGIN
  -- One batch at a time per database, across all service instances: each instance runs one batch
  -- in flight, and with several instances their batches would otherwise queue on each other's row
  -- locks while each stays small. Waiting here instead lets every instance's next batch grow while
  -- it waits. The key is arbitrary but fixed (the ledger's own advisory-lock namespace).
  PERFORM pg_advisory_xact_lock(7041001);
  -- Every balance row of the batch, locked in account-id order as every deposit locks its rows, so
  -- balance locks never wait in a cycle. The one cycle left (a client using one key for a deposit
  -- and a payment at the same moment) is broken by the deadlock detector; the caller retries it.
  PERFORM 1 FROM balances
    WHERE account_id IN (SELECT i->>'payerAccountId' FROM jsonb_array_elements(p_items) i
                         UNION SELECT i->>'payeeAccountId' FROM jsonb_array_elements(p_items) i)
    ORDER BY account_id FOR UPDATE;

  FOR v_item IN SELECT * FROM jsonb_array_elements(p_items) LOOP
    SELECT * INTO v_payer FROM balances WHERE account_id = v_item->>'payerAccountId';
    IF FOUND THEN SELECT * INTO v_payee FROM balances WHERE account_id = v_item->>'payeeAccountId'; END IF;
    IF NOT FOUND THEN
      -- The transactional path claims the key before it looks at the accounts: a live key answers
      -- first (a replay, or a key reused for another request), then the missing account.
      v_outcomes := v_outcomes || coalesce(
        (SELECT jsonb_build_object('replayed', true, 'result', k.result, 'method', k.method, 'requestHash', k.request_hash)
         FROM idempotency_keys k
         WHERE k.client_id = v_item->>'clientId' AND k.key = v_item->>'key' AND k.expires_at > now()),
        jsonb_build_object('missing', CASE WHEN v_payer.account_id IS NULL THEN 'payer_account_id' ELSE 'payee_account_id' END));
      CONTINUE;
    END IF;

    -- Decide under the lock, then claim the key together with the result it will answer with: one
    -- write of the key row instead of a claim and a later update. A live key (or one another
    -- transaction holds: the insert waits for it) means a replay and nothing else is written.
    v_amount := (v_item->>'amountCents')::bigint;
    v_at := (v_item->>'createdAt')::timestamptz;
    v_reason := CASE WHEN v_payer.currency <> v_item->>'currency' OR v_payee.currency <> v_item->>'currency' THEN 'CURRENCY_MISMATCH'
                   WHEN v_payer.available_cents < v_amount THEN 'INSUFFICIENT_FUNDS' END;
    v_status := CASE WHEN v_reason IS NULL THEN 'AUTHORIZED' ELSE 'DECLINED' END;
    -- The stored form of PaymentRecord (src/ledger/stored-json.ts tags bigint and Date).
    v_result := jsonb_build_object('paymentId', v_item->'paymentId', 'status', v_status, 'declineReason', v_reason,
      'payerAccountId', v_item->'payerAccountId', 'payeeAccountId', v_item->'payeeAccountId',
      'amountCents', jsonb_build_object('$bigint', v_item->'amountCents'), 'currency', v_item->'currency',
      'description', v_item->'description', 'createdAt', jsonb_build_object('$date', v_item->'createdAt'));
    v_claimed := NULL;
    INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
      VALUES (v_item->>'clientId', v_item->>'key', 'AuthorizePayment', v_item->>'requestHash', v_result,
              now() + make_interval(hours => p_ttl_hours))
      ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
        result = excluded.result, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now()
      RETURNING k.key INTO v_claimed;
    IF v_claimed IS NULL THEN
      v_outcomes := v_outcomes || (SELECT jsonb_build_object('replayed', true, 'result', k.result, 'method', k.method,
                                                             'requestHash', k.request_hash)
                                   FROM idempotency_keys k WHERE k.client_id = v_item->>'clientId' AND k.key = v_item->>'key');
      CONTINUE;
    END IF;

    INSERT INTO payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, description, created_at)
      VALUES (v_item->>'paymentId', v_payer.account_id, v_payee.account_id, v_amount, v_item->>'currency', v_status, v_reason,
              v_item->>'description', v_at);
    IF v_reason IS NULL THEN
      UPDATE balances SET available_cents = available_cents + CASE WHEN account_id = v_payer.account_id THEN -v_amount ELSE v_amount END,
          version = version + 1, updated_at = v_at
        WHERE account_id IN (v_payer.account_id, v_payee.account_id);
      INSERT INTO ledger_entries (transfer_id, account_id, amount_cents, currency, created_at)
        VALUES (v_item->>'paymentId', v_payer.account_id, -v_amount, v_item->>'currency', v_at),
               (v_item->>'paymentId', v_payee.account_id, v_amount, v_item->>'currency', v_at);
    END IF;

    v_payload := jsonb_build_object('paymentId', v_item->'paymentId', 'payerAccountId', v_item->'payerAccountId',
      'payeeAccountId', v_item->'payeeAccountId', 'amountCents', v_item->'amountCents', 'currency', v_item->'currency',
      'description', v_item->'description', 'createdAt', v_item->'createdAt');
    IF v_reason IS NOT NULL THEN v_payload := v_payload || jsonb_build_object('declineReason', v_reason); END IF;
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent)
      VALUES (v_item->>'eventId', 'Payment' || initcap(v_status), 'payment', v_item->>'paymentId',
              jsonb_build_object('eventId', v_item->'eventId', 'type', 'Payment' || initcap(v_status), 'schemaVersion', 1,
                'occurredAt', v_item->'createdAt', 'aggregateType', 'payment', 'aggregateId', v_item->'paymentId',
                'payload', v_payload),
              v_item->>'traceparent');
    v_outcomes := v_outcomes || jsonb_build_object('replayed', false, 'result', v_result);
  END LOOP;
  RETURN to_jsonb(v_outcomes);
END;
$$;
