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
--
-- Set-based: decide, then write in sets. The decisions need order (each payment sees the balances
-- the earlier ones left), so they run in a loop, but over plain arrays in memory: no statement per
-- item. The writes need no order, so each table gets one statement for the whole batch: the keys,
-- payments, entries and events are bulk inserts, the balances one UPDATE from the final amounts.
-- Measured with pgbench calling this function directly on durable PostgreSQL 15, 2 clients, uniform
-- (docs/profile.md, "set-based ledger SQL"): see the figures there against the per-item loop.
CREATE OR REPLACE FUNCTION ledger_authorize_payments(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  -- One entry per touched account, ordered by account id (index = position).
  v_ids text[];
  v_cur text[];
  v_bal bigint[];
  v_changes int[];
  v_last int[];
  -- One entry per item, in submission order.
  v_payer int[];
  v_payee int[];
  v_amount bigint[];
  v_currency text[];
  v_live boolean[];
  v_first int[];
  -- 'fresh' (written now), 'replay' (live key), 'batch' (replays item v_ref), 'payer' / 'payee' (missing).
  v_kind text[];
  v_ref int[];
  v_reason text[];
  v_owner int[];
  v_n int;
  v_claims int;
  v_claimed int;
  v_outcomes jsonb;
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
  SELECT array_agg(account_id ORDER BY account_id), array_agg(currency ORDER BY account_id),
         array_agg(available_cents ORDER BY account_id)
    INTO v_ids, v_cur, v_bal
    FROM balances
    WHERE account_id IN (SELECT i->>'payerAccountId' FROM jsonb_array_elements(p_items) i
                         UNION SELECT i->>'payeeAccountId' FROM jsonb_array_elements(p_items) i);
  v_ids := coalesce(v_ids, '{}');
  v_changes := array_fill(0, ARRAY[cardinality(v_ids)]);
  v_last := array_fill(0, ARRAY[cardinality(v_ids)]);

  -- Per item: account positions (null: missing), whether its key is live, and the first item of
  -- the batch with the same key (a later one replays it, as the loop version saw the claimed row).
  SELECT array_agg(a.pos ORDER BY it.ord), array_agg(b.pos ORDER BY it.ord),
         array_agg((it.i->>'amountCents')::bigint ORDER BY it.ord), array_agg(it.i->>'currency' ORDER BY it.ord),
         array_agg(k.key IS NOT NULL ORDER BY it.ord),
         array_agg(it.first ORDER BY it.ord)
    INTO v_payer, v_payee, v_amount, v_currency, v_live, v_first
    FROM (SELECT e.i, e.ord, min(e.ord) OVER (PARTITION BY e.i->>'clientId', e.i->>'key') AS first
            FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, ord)) it
    LEFT JOIN unnest(v_ids) WITH ORDINALITY a(id, pos) ON a.id = it.i->>'payerAccountId'
    LEFT JOIN unnest(v_ids) WITH ORDINALITY b(id, pos) ON b.id = it.i->>'payeeAccountId'
    LEFT JOIN idempotency_keys k ON k.client_id = it.i->>'clientId' AND k.key = it.i->>'key' AND k.expires_at > now();
  v_n := cardinality(v_payer);
  v_kind := array_fill(NULL::text, ARRAY[v_n]);
  v_ref := array_fill(NULL::int, ARRAY[v_n]);
  v_reason := array_fill(NULL::text, ARRAY[v_n]);
  v_owner := array_fill(NULL::int, ARRAY[v_n]);
  v_claims := 0;

  -- The decisions, in submission order, on the balances as the earlier items left them.
  FOR n IN 1 .. v_n LOOP
    IF v_live[n] THEN
      v_kind[n] := 'replay';
    ELSIF v_owner[v_first[n]] IS NOT NULL THEN
      v_kind[n] := 'batch';
      v_ref[n] := v_owner[v_first[n]];
    ELSIF v_payer[n] IS NULL THEN
      v_kind[n] := 'payer';
    ELSIF v_payee[n] IS NULL THEN
      v_kind[n] := 'payee';
    ELSE
      v_kind[n] := 'fresh';
      v_owner[v_first[n]] := n;
      v_claims := v_claims + 1;
      v_reason[n] := CASE WHEN v_cur[v_payer[n]] <> v_currency[n] OR v_cur[v_payee[n]] <> v_currency[n] THEN 'CURRENCY_MISMATCH'
                          WHEN v_bal[v_payer[n]] < v_amount[n] THEN 'INSUFFICIENT_FUNDS' END;
      IF v_reason[n] IS NULL THEN
        v_bal[v_payer[n]] := v_bal[v_payer[n]] - v_amount[n];
        v_bal[v_payee[n]] := v_bal[v_payee[n]] + v_amount[n];
        v_changes[v_payer[n]] := v_changes[v_payer[n]] + 1;
        v_changes[v_payee[n]] := v_changes[v_payee[n]] + 1;
        v_last[v_payer[n]] := n;
        v_last[v_payee[n]] := n;
      END IF;
    END IF;
  END LOOP;

  -- The writes, one statement per table for the whole batch.
  WITH item AS (
    SELECT it.ord, it.i, d.kind, d.ref, d.reason,
           CASE WHEN d.reason IS NULL THEN 'AUTHORIZED' ELSE 'DECLINED' END AS status,
           (it.i->>'createdAt')::timestamptz AS at
      FROM jsonb_array_elements(p_items) WITH ORDINALITY it(i, ord)
      JOIN unnest(v_kind, v_ref, v_reason) WITH ORDINALITY d(kind, ref, reason, ord) ON d.ord = it.ord
  ), fresh AS (
    -- The stored form of PaymentRecord (src/ledger/stored-json.ts tags bigint and Date).
    SELECT item.*, jsonb_build_object('paymentId', i->'paymentId', 'status', status, 'declineReason', reason,
             'payerAccountId', i->'payerAccountId', 'payeeAccountId', i->'payeeAccountId',
             'amountCents', jsonb_build_object('$bigint', i->'amountCents'), 'currency', i->'currency',
             'description', i->'description', 'createdAt', jsonb_build_object('$date', i->'createdAt')) AS result
      FROM item WHERE kind = 'fresh'
  ), keys AS (
    -- A live key no longer in v_live (another transaction claimed it since: a deposit with the same
    -- key) is not taken over; the count below then differs and the batch is retried as a whole.
    INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
      SELECT i->>'clientId', i->>'key', 'AuthorizePayment', i->>'requestHash', result, now() + make_interval(hours => p_ttl_hours)
        FROM fresh
      ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
        result = excluded.result, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now()
      RETURNING 1
  ), payments_written AS (
    INSERT INTO payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, description, created_at)
      SELECT i->>'paymentId', i->>'payerAccountId', i->>'payeeAccountId', (i->>'amountCents')::bigint, i->>'currency', status, reason,
             i->>'description', at
        FROM fresh
  ), entries_written AS (
    INSERT INTO ledger_entries (transfer_id, account_id, amount_cents, currency, created_at)
      SELECT i->>'paymentId', CASE WHEN side = 1 THEN i->>'payerAccountId' ELSE i->>'payeeAccountId' END,
             CASE WHEN side = 1 THEN -(i->>'amountCents')::bigint ELSE (i->>'amountCents')::bigint END, i->>'currency', at
        FROM fresh CROSS JOIN (VALUES (1), (2)) s(side)
        WHERE reason IS NULL
        ORDER BY ord, side
  ), balances_written AS (
    UPDATE balances b SET available_cents = t.bal, version = b.version + t.changes, updated_at = item.at
      FROM unnest(v_ids, v_bal, v_changes, v_last) t(id, bal, changes, last)
      JOIN item ON item.ord = t.last
      WHERE b.account_id = t.id AND t.changes > 0
  ), events_written AS (
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent)
      SELECT i->>'eventId', 'Payment' || initcap(status), 'payment', i->>'paymentId',
             jsonb_build_object('eventId', i->'eventId', 'type', 'Payment' || initcap(status), 'schemaVersion', 1,
               'occurredAt', i->'createdAt', 'aggregateType', 'payment', 'aggregateId', i->'paymentId',
               'payload', jsonb_build_object('paymentId', i->'paymentId', 'payerAccountId', i->'payerAccountId',
                 'payeeAccountId', i->'payeeAccountId', 'amountCents', i->'amountCents', 'currency', i->'currency',
                 'description', i->'description', 'createdAt', i->'createdAt')
               || CASE WHEN reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('declineReason', reason) END),
             i->>'traceparent'
        FROM fresh
        ORDER BY ord
  )
  SELECT (SELECT count(*) FROM keys),
         jsonb_agg(CASE item.kind
             WHEN 'fresh' THEN jsonb_build_object('replayed', false, 'result', f.result)
             WHEN 'batch' THEN jsonb_build_object('replayed', true, 'result', o.result, 'method', 'AuthorizePayment',
                                                  'requestHash', o.i->>'requestHash')
             WHEN 'replay' THEN (SELECT jsonb_build_object('replayed', true, 'result', k.result, 'method', k.method, 'requestHash', k.request_hash)
                                 FROM idempotency_keys k WHERE k.client_id = item.i->>'clientId' AND k.key = item.i->>'key')
             ELSE jsonb_build_object('missing', item.kind || '_account_id') END
           ORDER BY item.ord)
    INTO v_claimed, v_outcomes
    FROM item
    LEFT JOIN fresh f ON f.ord = item.ord
    LEFT JOIN fresh o ON o.ord = item.ref;
  IF v_claimed <> v_claims THEN
    RAISE EXCEPTION 'an idempotency key of this batch was claimed concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN v_outcomes;
END;
$$;
