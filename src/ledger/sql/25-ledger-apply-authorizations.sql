-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- ledger_apply_authorizations: the set-based path of ledger_apply (30-ledger-apply.sql) for a batch
-- made only of authorize items, which is what AuthorizePayment under load and AuthorizePayments
-- produce. Same outcomes, in the same order, as running ledger_cmd_authorize item by item, but:
--   1. the decisions run in a loop over the batch's balance rows held in memory (each payment
--      sees the balances the earlier ones left), with the same rule functions
--      (ledger_authorize_refusal: currency, funds with overdraft, int64), and no statement per item;
--   2. the lines (entries, hold movements: numbers, balances after, the chain) are made in that loop
--      by the functions the per-item path uses (12-ledger-lines.sql), then each table gets one
--      statement for the whole batch: payments, states, transitions, entries, hold movements and
--      events are bulk inserts, the balances one UPDATE to their final values, the idempotency
--      keys one insert with their results.
-- The caller (ledger_apply) holds the balance rows' locks.
-- Measured with pgbench calling ledger_apply directly (npm run bench:function): see docs/profile.md.
-- Generic plans only (the SET clause, for this function's statements and those it calls): with
-- the default, PostgreSQL kept choosing a custom plan for its larger statements and planned them
-- again on every call (one of them 0.375 ms per call at 1 item, pg_stat_statements with
-- track_planning), a fixed cost per batch that made the set path dearer than the loop for small
-- batches. The plans do not depend on the values (jsonb_array_elements is estimated at 100 rows
-- either way); docs/write-path.md.
CREATE OR REPLACE FUNCTION ledger_apply_authorizations(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  -- The touched balance rows, ordered by account id; items refer to them by position.
  v_rows balances[];
  v_ids text[];
  v_changed boolean[];
  v_p balances;
  v_q balances;
  -- One entry per item, in submission order.
  v_payer int[];
  v_payee int[];
  v_amount bigint[];
  v_live boolean[];
  v_first int[];
  -- 'fresh' (written now), 'replay' (its key was live), 'batch' (replays item v_ref of this batch),
  -- 'payer' / 'payee' (that account does not exist: refused, nothing written), 'closed' (the payer
  -- or the payee is closed: refused with v_refused, nothing written).
  v_kind text[];
  v_refused jsonb[];
  v_ref int[];
  v_reason text[];
  v_owner int[];
  v_n int;
  v_claims int := 0;
  v_claimed int;
  v_outcomes jsonb;
  v_payer_seq bigint[];
  v_payee_seq bigint[];
  v_entries ledger_entries[] := '{}';
  v_holds hold_movements[] := '{}';
  v_at timestamptz;
  v_pay text;
  v_id bigint;
BEGIN
  -- One probe of the balances' index per account: written as a join (`IN (SELECT ...)`), it was
  -- planned as a hash join over every balance row (jsonb_array_elements is guessed to return 100
  -- rows), so a batch read the whole table however few accounts it named.
  SELECT array_agg(b ORDER BY b.account_id), array_agg(b.account_id ORDER BY b.account_id)
    INTO v_rows, v_ids
    FROM balances b
    WHERE b.account_id = ANY (ARRAY(SELECT i->>'payerAccountId' FROM jsonb_array_elements(p_items) i
                                    UNION SELECT i->>'payeeAccountId' FROM jsonb_array_elements(p_items) i));
  v_ids := coalesce(v_ids, '{}');
  v_changed := array_fill(false, ARRAY[cardinality(v_ids)]);

  -- Per item: account positions (NULL: missing), whether its key is live, and the first item of
  -- the batch with the same key (a later one replays it, as the per-item path finds the key the first wrote).
  SELECT array_agg(a.pos ORDER BY it.ord), array_agg(b.pos ORDER BY it.ord),
         array_agg((it.i->>'amountCents')::bigint ORDER BY it.ord),
         -- One probe of the key's primary key per item, its expiry read from the row: as a join, a
         -- hash join over every live key; with the expiry in the WHERE clause, a plan from a small
         -- table's statistics walked the expiry index over every live key instead.
         array_agg(coalesce((SELECT k.expires_at > now() FROM idempotency_keys k
                                     WHERE k.client_id = it.i->>'clientId' AND k.key = it.i->>'key'), false) ORDER BY it.ord),
         array_agg(it.first ORDER BY it.ord)
    INTO v_payer, v_payee, v_amount, v_live, v_first
    FROM (SELECT e.i, e.ord, min(e.ord) OVER (PARTITION BY e.i->>'clientId', e.i->>'key') AS first
            FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, ord)) it
    LEFT JOIN unnest(v_ids) WITH ORDINALITY a(id, pos) ON a.id = it.i->>'payerAccountId'
    LEFT JOIN unnest(v_ids) WITH ORDINALITY b(id, pos) ON b.id = it.i->>'payeeAccountId';
  v_n := cardinality(v_payer);
  v_kind := array_fill(NULL::text, ARRAY[v_n]);
  v_ref := array_fill(NULL::int, ARRAY[v_n]);
  v_reason := array_fill(NULL::text, ARRAY[v_n]);
  v_refused := array_fill(NULL::jsonb, ARRAY[v_n]);
  v_owner := array_fill(NULL::int, ARRAY[v_n]);
  v_payer_seq := array_fill(NULL::bigint, ARRAY[v_n]);
  v_payee_seq := array_fill(NULL::bigint, ARRAY[v_n]);

  -- The decisions, in submission order, on the balances as the earlier items left them. The lines
  -- are made by the same functions as ledger_move and ledger_hold (12-ledger-lines.sql) make them.
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
    ELSIF ledger_authorize_closed(v_rows[v_payer[n]], v_rows[v_payee[n]]) IS NOT NULL THEN
      v_kind[n] := 'closed';
      v_refused[n] := ledger_authorize_closed(v_rows[v_payer[n]], v_rows[v_payee[n]]);
    ELSE
      v_kind[n] := 'fresh';
      v_owner[v_first[n]] := n;
      v_claims := v_claims + 1;
      v_p := v_rows[v_payer[n]];
      v_q := v_rows[v_payee[n]];
      v_reason[n] := ledger_authorize_refusal(v_p, v_q, p_items->(n - 1)->>'currency', v_amount[n]);
      v_at := (p_items->(n - 1)->>'at')::timestamptz;
      v_pay := p_items->(n - 1)->>'paymentId';
      IF v_reason[n] IS NULL AND p_items->(n - 1)->>'captureMethod' = 'MANUAL' THEN
        v_id := nextval('hold_movements_id_seq');
        v_p := ledger_hold_line(v_p, v_amount[n], v_at);
        v_holds := v_holds || ledger_hold_row(v_p, v_id, v_pay, v_amount[n], v_at);
      ELSIF v_reason[n] IS NULL THEN
        v_id := nextval('ledger_entries_id_seq');
        v_p := ledger_entry_line(v_p, v_id, v_pay, -v_amount[n], v_at);
        v_entries := v_entries || ledger_entry_row(v_p, v_id, v_pay, -v_amount[n], v_at);
        v_id := nextval('ledger_entries_id_seq');
        v_q := ledger_entry_line(v_q, v_id, v_pay, v_amount[n], v_at);
        v_entries := v_entries || ledger_entry_row(v_q, v_id, v_pay, v_amount[n], v_at);
      END IF;
      -- Every new payment is a step of both accounts, declines included (WatchPayments).
      v_p.payment_seq := v_p.payment_seq + 1;
      v_q.payment_seq := v_q.payment_seq + 1;
      v_payer_seq[n] := v_p.payment_seq;
      v_payee_seq[n] := v_q.payment_seq;
      v_rows[v_payer[n]] := v_p;
      v_rows[v_payee[n]] := v_q;
      v_changed[v_payer[n]] := true;
      v_changed[v_payee[n]] := true;
    END IF;
  END LOOP;

  -- The writes, one statement per table for the whole batch.
  PERFORM ledger_write_balances(ARRAY(SELECT v_rows[i] FROM generate_subscripts(v_rows, 1) i WHERE v_changed[i]));
  INSERT INTO ledger_entries SELECT * FROM unnest(v_entries);
  INSERT INTO hold_movements SELECT * FROM unnest(v_holds);
  WITH fresh AS (
    SELECT it.ord, it.i, d.reason, d.payer_seq, d.payee_seq, (it.i->>'at')::timestamptz AS at, (it.i->>'amountCents')::bigint AS amount,
           it.i->>'captureMethod' = 'MANUAL' AS manual,
           CASE WHEN it.i->>'captureMethod' = 'MANUAL' THEN (it.i->>'holdExpiresAt')::timestamptz END AS expires,
           CASE WHEN d.reason IS NOT NULL THEN 'DECLINED' WHEN it.i->>'captureMethod' = 'MANUAL' THEN 'REQUIRES_CAPTURE'
                ELSE 'AUTHORIZED' END AS status
      FROM jsonb_array_elements(p_items) WITH ORDINALITY it(i, ord)
      JOIN unnest(v_kind, v_reason, v_payer_seq, v_payee_seq) WITH ORDINALITY d(kind, reason, payer_seq, payee_seq, ord)
        ON d.ord = it.ord
      WHERE d.kind = 'fresh'
  ), payments_written AS (
    INSERT INTO payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, description,
                          created_at, capture_method, hold_expires_at, metadata)
      SELECT i->>'paymentId', i->>'payerAccountId', i->>'payeeAccountId', amount, i->>'currency', status, reason,
             i->>'description', at, i->>'captureMethod', expires, coalesce(i->'metadata', '{}')
        FROM fresh ORDER BY ord
  ), states_written AS (
    INSERT INTO payment_states (payment_id, status, held_cents, captured_cents, hold_expires_at, updated_at)
      SELECT i->>'paymentId', status, CASE WHEN manual THEN amount ELSE 0 END, CASE WHEN manual THEN 0 ELSE amount END, expires, at
        FROM fresh WHERE reason IS NULL ORDER BY ord
  ), transitions_written AS (
    INSERT INTO payment_transitions (payment_id, status, amount_cents, created_at, payer_account_id, payee_account_id,
                                     payer_seq, payee_seq)
      SELECT i->>'paymentId', status, amount, at, i->>'payerAccountId', i->>'payeeAccountId', payer_seq, payee_seq
        FROM fresh ORDER BY ord
  )
  INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent)
    SELECT i->>'eventId', t.type, 'payment', i->>'paymentId',
           ledger_envelope(i, t.type, 'payment', i->>'paymentId', ledger_authorize_payload(i, reason, expires)), i->>'traceparent'
      FROM fresh CROSS JOIN LATERAL (SELECT CASE WHEN reason IS NULL THEN 'PaymentAuthorized' ELSE 'PaymentDeclined' END AS type) t
      ORDER BY ord;

  -- The keys with their results (the payments as now stored, read back in this statement: the
  -- record ledger_payment_json makes of a payment that is not split, and no call per item), then
  -- one outcome per item. A key that turns out live although it was
  -- not a moment ago (another batch, on any instance, claimed it and committed meanwhile) makes
  -- the count differ: the whole batch is rolled back with a serialization failure and retried, and
  -- the retry answers that item as a replay.
  WITH item AS (
    SELECT it.ord, it.i, d.kind, d.ref
      FROM jsonb_array_elements(p_items) WITH ORDINALITY it(i, ord)
      JOIN unnest(v_kind, v_ref) WITH ORDINALITY d(kind, ref, ord) ON d.ord = it.ord
  ), keys AS (
    INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
      SELECT i->>'clientId', i->>'key', i->>'method', i->>'requestHash', ledger_payment_record(p, s),
             now() + make_interval(hours => p_ttl_hours)
        FROM item JOIN payments p ON p.id = item.i->>'paymentId' LEFT JOIN payment_states s ON s.payment_id = p.id
       WHERE kind = 'fresh'
      ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
        result = excluded.result, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now()
      RETURNING k.client_id, k.key, k.result
  )
  SELECT (SELECT count(*) FROM keys),
         jsonb_agg(CASE item.kind
             WHEN 'fresh' THEN jsonb_build_object('replayed', false, 'result', f.result)
             WHEN 'batch' THEN ledger_replay(item.i, owner.i->>'method', owner.i->>'requestHash', o.result)
             WHEN 'replay' THEN (SELECT ledger_replay(item.i, k.method, k.request_hash, k.result)
                                 FROM idempotency_keys k WHERE k.client_id = item.i->>'clientId' AND k.key = item.i->>'key')
             WHEN 'payer' THEN ledger_missing_account('payer_account_id', item.i->>'payerAccountId')
             WHEN 'closed' THEN v_refused[item.ord]
             ELSE ledger_missing_account('payee_account_id', item.i->>'payeeAccountId') END
           ORDER BY item.ord)
    INTO v_claimed, v_outcomes
    FROM item
    LEFT JOIN keys f ON item.kind = 'fresh' AND f.client_id = item.i->>'clientId' AND f.key = item.i->>'key'
    LEFT JOIN item owner ON owner.ord = item.ref
    LEFT JOIN keys o ON item.kind = 'batch' AND o.client_id = owner.i->>'clientId' AND o.key = owner.i->>'key';
  IF v_claimed <> v_claims THEN
    RAISE EXCEPTION 'an idempotency key of this batch was claimed concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN v_outcomes;
END;
$$;
