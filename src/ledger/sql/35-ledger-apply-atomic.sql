-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- ledger_apply_atomic: the items of one atomic batch request (AuthorizePayments, CapturePayments,
-- RefundPayments or WithdrawFundsBatch with atomic = true), all or nothing. The batcher sends each
-- atomic request as a call of its own (src/ledger/payment-batch.ts), so one request's failure never
-- aborts another's. The items run exactly as ledger_apply runs them, inside a savepoint (the
-- BEGIN ... EXCEPTION block); when one fails, the savepoint is rolled back, so no item is written
-- (its lines, events and key claims included), and:
--   * the first failing item keeps its own outcome: its refusal, or its declined record (a
--     payment, refund or payout that was declined; not written, as nothing of the batch is);
--   * every other item gets ABORTED, naming the failing item (items[i], 0-based) and its reason;
--   * each outcome is kept under its item's key (ledger_replay returns a kept refusal as it was),
--     so sending the batch again with the same keys returns the same outcomes and writes nothing.
-- An item fails when its outcome is a refusal or a DECLINED record, replayed or not. Items whose
-- key was live before the call (replays of earlier requests, keys reused for another request)
-- keep their outcome and their key: this batch cannot change what they did.
-- Index plans only, as ledger_apply (30-ledger-apply.sql says why).
CREATE OR REPLACE FUNCTION ledger_apply_atomic(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  v_n int := jsonb_array_length(p_items);
  v_outcomes jsonb;
  v_failed int;
  v_live boolean[];
  v_first int[];
  v_kept jsonb[];
  v_out jsonb[];
  v_reason text;
  v_aborted jsonb;
  v_item jsonb;
  v_claims int := 0;
  v_claimed int;
BEGIN
  -- Per item: whether its key was live before, and the first item of the batch with its key.
  -- (One probe of the key's primary key per item, as in 25-ledger-apply-authorizations.sql.)
  SELECT array_agg(coalesce((SELECT k.expires_at > now() FROM idempotency_keys k
                                     WHERE k.client_id = it.i->>'clientId' AND k.key = it.i->>'key'), false) ORDER BY it.ord),
         array_agg(it.first::int ORDER BY it.ord)
    INTO v_live, v_first
    FROM (SELECT e.i, e.ord, min(e.ord) OVER (PARTITION BY e.i->>'clientId', e.i->>'key') AS first
            FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, ord)) it;
  BEGIN
    v_outcomes := ledger_apply(p_items, p_ttl_hours);
    SELECT min(o.ord)::int INTO v_failed FROM jsonb_array_elements(v_outcomes) WITH ORDINALITY o(x, ord)
      WHERE o.x ? 'error' OR o.x->'result'->>'status' = 'DECLINED';
    IF v_failed IS NULL THEN RETURN v_outcomes; END IF;
    RAISE EXCEPTION 'atomic batch aborted at item %', v_failed USING ERRCODE = 'LA001';
  EXCEPTION WHEN SQLSTATE 'LA001' THEN
    NULL; -- rolled back: nothing of the batch is written (v_outcomes and v_failed survive)
  END;

  v_reason := coalesce(v_outcomes->(v_failed - 1)->'error'->>'code',
                       'declined: ' || coalesce(v_outcomes->(v_failed - 1)->'result'->>'declineReason', 'DECLINED'));
  v_aborted := ledger_error('ABORTED', '', format(
    'aborted: items[%s] failed (%s), so no item of this atomic batch was applied', v_failed - 1, v_reason));
  v_kept := array_fill(NULL::jsonb, ARRAY[v_n]);
  v_out := array_fill(NULL::jsonb, ARRAY[v_n]);
  FOR n IN 1 .. v_n LOOP
    v_item := p_items->(n - 1);
    IF v_live[n] THEN
      v_out[n] := v_outcomes->(n - 1);
    ELSIF v_first[n] <> n THEN
      -- A key repeated within the batch replays its first use, as it would have.
      v_out[n] := ledger_replay(v_item, p_items->(v_first[n] - 1)->>'method', p_items->(v_first[n] - 1)->>'requestHash', v_kept[v_first[n]]);
    ELSE
      -- The failing item's declined record comes back as `replayed`: nothing was done now (metrics
      -- and change notifications skip it); it is what its key keeps.
      v_out[n] := CASE WHEN n <> v_failed THEN v_aborted
                       WHEN v_outcomes->(n - 1) ? 'error' THEN v_outcomes->(n - 1)
                       ELSE jsonb_build_object('replayed', true, 'result', v_outcomes->(n - 1)->'result') END;
      v_kept[n] := CASE WHEN v_out[n] ? 'error' THEN v_out[n] ELSE v_out[n]->'result' END;
      v_claims := v_claims + 1;
    END IF;
  END LOOP;

  -- The kept outcomes under their keys. A key claimed meanwhile by another transaction (it was free
  -- when this one rolled back its claim) makes the count differ: the call is retried as a whole
  -- (serialization failure, src/ledger/transient-retry.ts) and then answers that item as a replay.
  WITH keys AS (
    INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
      SELECT p_items->(n - 1)->>'clientId', p_items->(n - 1)->>'key', p_items->(n - 1)->>'method', p_items->(n - 1)->>'requestHash',
             v_kept[n], now() + make_interval(hours => p_ttl_hours)
        FROM generate_series(1, v_n) n WHERE v_kept[n] IS NOT NULL
      ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
        result = excluded.result, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now()
      RETURNING 1)
  SELECT count(*) INTO v_claimed FROM keys;
  IF v_claimed <> v_claims THEN
    RAISE EXCEPTION 'an idempotency key of this atomic batch was claimed concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN to_jsonb(v_out);
END;
$$;
