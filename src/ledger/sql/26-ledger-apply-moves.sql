-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- ledger_apply_moves: the general set-based path of ledger_apply (30-ledger-apply.sql), for a batch
-- of deposits, payouts, captures, voids, expiries, refunds and authorizations in any mix (a batch
-- of authorizations alone takes ledger_apply_authorizations, 25-ledger-apply-authorizations.sql).
-- Same outcomes, rows, events, lines, chain hashes, payment steps and idempotency keys, in the
-- same order, as running the ledger_cmd_* functions item by item (test/ledger/apply-paths.test.ts
-- compares every row), but:
--   1. the balance rows, the payments acted on and their states are read once, into memory; the
--      decisions run in submission order over them (each item sees what the earlier ones left, a
--      payment authorized earlier in the batch included), with the rule functions the per-item
--      commands call (10-ledger-helpers.sql, 15-ledger-authorize-rules.sql, 16-ledger-command-rules.sql);
--   2. the lines are made in that loop by the line functions of the per-item path
--      (12-ledger-lines.sql), the events, records and results by the shared shape functions;
--   3. each table is written once for the whole batch: balances and payment states one UPDATE to
--      their final values, the rest bulk inserts in submission order, the idempotency keys one
--      insert with their results (a key claimed concurrently meanwhile rolls the batch back with a
--      serialization failure, as in ledger_apply_authorizations).
-- The caller holds the balance rows' locks (the payer and payee of every payment acted on
-- included), which also serialises every writer of those payments' states.
-- Returns NULL, having written nothing, when an item acts on a split payment: the per-item path
-- (21-ledger-splits.sql) takes such a batch (ledger_apply sends no split authorization here).
-- Generic plans only (the SET clause), for the reason given in 25-ledger-apply-authorizations.sql:
-- custom plans were made again on every call.
CREATE OR REPLACE FUNCTION ledger_apply_moves(p_items jsonb, p_ttl_hours integer) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  -- The touched balance rows, ordered by account id; items refer to them by position.
  v_rows balances[];
  v_ids text[];
  -- Account id -> position in v_rows, and payment id -> position in v_pays: a jsonb object finds a
  -- key by binary search (joining the items with unnest(v_ids) was planned as nested loops,
  -- items x accounts: 58 ms for 1,000 items over 1,000 accounts).
  v_pos jsonb;
  v_ppos jsonb;
  v_changed boolean[];
  -- The payments acted on (ordered by id) and their states (all NULL: none).
  v_pays payments[];
  v_pids text[];
  v_states payment_states[];
  v_state_changed boolean[];
  -- Payments authorized by this batch (appended to v_pays): inserted, not updated.
  v_new boolean[];
  v_new_count int := 0;
  -- One entry per item, in submission order: positions of its account, funding account, payment.
  v_acc int[];
  v_fund int[];
  v_payer int[];
  v_payee int[];
  v_pay int[];
  v_live boolean[];
  v_first int[];
  -- 'fresh' (done now, v_result), 'error' (refused: v_result is the refusal, nothing written),
  -- 'replay' (its key was live), 'batch' (replays fresh item v_ref of this batch).
  v_kind text[];
  v_result jsonb[];
  v_ref int[];
  v_owner int[];
  v_n int;
  v_claims int := 0;
  v_claimed int;
  v_outcomes jsonb;
  -- What the batch writes.
  v_entries ledger_entries[] := '{}';
  v_holds hold_movements[] := '{}';
  v_deposits deposits[] := '{}';
  v_withdrawals withdrawals[] := '{}';
  v_refunds refunds[] := '{}';
  v_ev_item int[] := '{}';
  v_ev_type text[] := '{}';
  v_ev_aggregate text[] := '{}';
  v_ev_aggregate_id text[] := '{}';
  v_ev_payload jsonb[] := '{}';
  v_tr_payment text[] := '{}';
  v_tr_status text[] := '{}';
  v_tr_amount bigint[] := '{}';
  v_tr_at timestamptz[] := '{}';
  v_tr_payer text[] := '{}';
  v_tr_payee text[] := '{}';
  v_tr_payer_seq bigint[] := '{}';
  v_tr_payee_seq bigint[] := '{}';
  -- The item being decided.
  v_item jsonb;
  v_what text;
  v_amount bigint;
  v_at timestamptz;
  v_error jsonb;
  v_reason text;
  v_a balances;
  v_f balances;
  v_p balances;
  v_q balances;
  v_payment payments;
  v_state payment_states;
  v_held bigint;
  v_id bigint;
  v_id2 bigint;
  v_dep deposits;
  v_wd withdrawals;
  v_rf refunds;
  v_status text;
  v_expires timestamptz;
  v_pa int;
  v_pb int;
BEGIN
  -- (A statement with nothing to do is skipped here and below: each costs a few dozen µs even
  -- when empty, which is most of what a small batch of one kind pays.)
  IF p_items @? '$[*].paymentId' THEN
    -- Each payment's state by one probe of its primary key (joined, a generic plan read every
    -- state through a hash join).
    SELECT array_agg(p ORDER BY p.id), array_agg(p.id ORDER BY p.id),
           array_agg((SELECT s FROM payment_states s WHERE s.payment_id = p.id) ORDER BY p.id)
      INTO v_pays, v_pids, v_states
      FROM payments p
      WHERE p.id = ANY (ARRAY(SELECT i->>'paymentId' FROM jsonb_array_elements(p_items) i WHERE i ? 'paymentId'));
  END IF;
  v_pays := coalesce(v_pays, '{}');
  v_pids := coalesce(v_pids, '{}');
  v_states := coalesce(v_states, '{}');
  IF EXISTS (SELECT 1 FROM unnest(v_pays) p WHERE p.payee_account_id IS NULL) THEN RETURN NULL; END IF;
  v_state_changed := array_fill(false, ARRAY[cardinality(v_pays)]);
  v_new := array_fill(false, ARRAY[cardinality(v_pays)]);

  SELECT array_agg(b ORDER BY b.account_id), array_agg(b.account_id ORDER BY b.account_id)
    INTO v_rows, v_ids
    FROM balances b
    WHERE b.account_id = ANY (ARRAY(SELECT unnest(ARRAY[i->>'accountId', i->>'fundingAccountId', i->>'payerAccountId', i->>'payeeAccountId'])
                                      FROM jsonb_array_elements(p_items) i
                                    UNION SELECT unnest(ARRAY[p.payer_account_id, p.payee_account_id]) FROM unnest(v_pays) p));
  v_ids := coalesce(v_ids, '{}');
  v_rows := coalesce(v_rows, '{}');
  v_changed := array_fill(false, ARRAY[cardinality(v_ids)]);
  v_pos := coalesce((SELECT jsonb_object_agg(id, pos) FROM unnest(v_ids) WITH ORDINALITY u(id, pos)), '{}');
  v_ppos := coalesce((SELECT jsonb_object_agg(id, pos) FROM unnest(v_pids) WITH ORDINALITY u(id, pos)), '{}');

  -- Per item: positions (NULL: missing), whether its key is live, and the first item of the batch
  -- with the same key (a later one replays it, as the per-item path finds the key the first wrote). Expiries
  -- have no key.
  SELECT array_agg((v_pos->>(it.i->>'accountId'))::int ORDER BY it.ord),
         array_agg((v_pos->>(it.i->>'fundingAccountId'))::int ORDER BY it.ord),
         array_agg((v_ppos->>(it.i->>'paymentId'))::int ORDER BY it.ord),
         array_agg((v_pos->>(it.i->>'payerAccountId'))::int ORDER BY it.ord),
         array_agg((v_pos->>(it.i->>'payeeAccountId'))::int ORDER BY it.ord),
         -- One probe of the key's primary key per item, its expiry read from the row (a join with
         -- the keys was planned as a hash join over the whole table for the 100 rows
         -- jsonb_array_elements is guessed to return; with the expiry in the WHERE clause, a plan
         -- from a small table's statistics walked the expiry index over every live key).
         array_agg(coalesce((SELECT k.expires_at > now() FROM idempotency_keys k
                                     WHERE k.client_id = it.i->>'clientId' AND k.key = it.i->>'key'), false) ORDER BY it.ord),
         array_agg(it.first ORDER BY it.ord)
    INTO v_acc, v_fund, v_pay, v_payer, v_payee, v_live, v_first
    FROM (SELECT e.i, e.ord,
                 CASE WHEN e.i->>'key' IS NULL THEN e.ord ELSE min(e.ord) OVER (PARTITION BY e.i->>'clientId', e.i->>'key') END AS first
            FROM jsonb_array_elements(p_items) WITH ORDINALITY e(i, ord)) it;
  v_n := jsonb_array_length(p_items);
  v_kind := array_fill(NULL::text, ARRAY[v_n]);
  v_result := array_fill(NULL::jsonb, ARRAY[v_n]);
  v_ref := array_fill(NULL::int, ARRAY[v_n]);
  v_owner := array_fill(NULL::int, ARRAY[v_n]);

  FOR n IN 1 .. v_n LOOP
    v_item := p_items->(n - 1);
    IF v_live[n] THEN
      v_kind[n] := 'replay';
      CONTINUE;
    ELSIF v_owner[v_first[n]] IS NOT NULL THEN
      v_kind[n] := 'batch';
      v_ref[n] := v_owner[v_first[n]];
      CONTINUE;
    END IF;
    v_what := v_item->>'kind';
    v_amount := (v_item->>'amountCents')::bigint;
    v_at := (v_item->>'at')::timestamptz;
    v_error := NULL;

    IF v_what IN ('deposit', 'withdraw') THEN
      v_a := CASE WHEN v_acc[n] IS NOT NULL THEN v_rows[v_acc[n]] END;
      v_error := ledger_account_refusal(v_a, v_item);
      IF v_error IS NULL THEN
        IF v_fund[n] IS NULL THEN
          RAISE EXCEPTION 'ledger_apply_moves: funding account % does not exist', v_item->>'fundingAccountId' USING ERRCODE = 'no_data_found';
        END IF;
        v_f := v_rows[v_fund[n]];
      END IF;
    END IF;

    IF v_error IS NOT NULL THEN
      NULL;
    ELSIF v_what = 'deposit' THEN
      v_error := ledger_deposit_refusal(v_a, v_f, v_amount);
      IF v_error IS NULL THEN
        v_dep := NULL;
        v_dep.id := v_item->>'depositId';
        v_dep.account_id := v_a.account_id;
        v_dep.amount_cents := v_amount;
        v_dep.currency := v_a.currency;
        v_dep.created_at := v_at;
        v_dep.metadata := coalesce(v_item->'metadata', '{}');
        v_deposits := v_deposits || v_dep;
        -- As ledger_move: the debit's id first, the funding account's line, then the account's.
        v_id := nextval('ledger_entries_id_seq');
        v_id2 := nextval('ledger_entries_id_seq');
        v_p := ledger_entry_line(v_f, v_id, v_dep.id, -v_amount, v_at);
        v_rows[v_fund[n]] := v_p;
        v_entries := v_entries || ledger_entry_row(v_p, v_id, v_dep.id, -v_amount, v_at);
        v_q := ledger_entry_line(v_rows[v_acc[n]], v_id2, v_dep.id, v_amount, v_at);
        v_rows[v_acc[n]] := v_q;
        v_entries := v_entries || ledger_entry_row(v_q, v_id2, v_dep.id, v_amount, v_at);
        v_changed[v_fund[n]] := true;
        v_changed[v_acc[n]] := true;
        v_ev_item := v_ev_item || n;
        v_ev_type := v_ev_type || 'FundsDeposited'::text;
        v_ev_aggregate := v_ev_aggregate || 'account'::text;
        v_ev_aggregate_id := v_ev_aggregate_id || v_a.account_id;
        v_ev_payload := v_ev_payload || ledger_deposit_payload(v_item, v_a, v_f.account_id);
        v_result[n] := ledger_deposit_result(v_item, v_a);
      END IF;
    ELSIF v_what = 'withdraw' THEN
      v_reason := ledger_withdraw_refusal(v_a, v_f, v_amount);
      v_wd := NULL;
      v_wd.id := v_item->>'withdrawalId';
      v_wd.account_id := v_a.account_id;
      v_wd.amount_cents := v_amount;
      v_wd.currency := v_a.currency;
      v_wd.reference := v_item->>'reference';
      v_wd.status := CASE WHEN v_reason IS NULL THEN 'WITHDRAWN' ELSE 'DECLINED' END;
      v_wd.decline_reason := v_reason;
      v_wd.created_at := v_at;
      v_wd.metadata := coalesce(v_item->'metadata', '{}');
      v_withdrawals := v_withdrawals || v_wd;
      IF v_reason IS NULL THEN
        v_id := nextval('ledger_entries_id_seq');
        v_id2 := nextval('ledger_entries_id_seq');
        v_p := ledger_entry_line(v_a, v_id, v_wd.id, -v_amount, v_at);
        v_rows[v_acc[n]] := v_p;
        v_entries := v_entries || ledger_entry_row(v_p, v_id, v_wd.id, -v_amount, v_at);
        v_q := ledger_entry_line(v_rows[v_fund[n]], v_id2, v_wd.id, v_amount, v_at);
        v_rows[v_fund[n]] := v_q;
        v_entries := v_entries || ledger_entry_row(v_q, v_id2, v_wd.id, v_amount, v_at);
        v_changed[v_acc[n]] := true;
        v_changed[v_fund[n]] := true;
      END IF;
      v_ev_item := v_ev_item || n;
      v_ev_type := v_ev_type || CASE WHEN v_reason IS NULL THEN 'FundsWithdrawn' ELSE 'FundsWithdrawalDeclined' END;
      v_ev_aggregate := v_ev_aggregate || 'account'::text;
      v_ev_aggregate_id := v_ev_aggregate_id || v_a.account_id;
      v_ev_payload := v_ev_payload || ledger_withdraw_payload(v_item, v_a, v_f.account_id, v_reason);
      v_result[n] := ledger_withdraw_result(v_item, v_a, v_reason);
    ELSIF v_what IN ('authorize', 'capture', 'void', 'expire', 'refund') THEN
      IF v_what = 'authorize' THEN
        -- As ledger_cmd_authorize (and ledger_apply_authorizations): refusals, then the decision,
        -- the hold or the two entries, the payment's first step (a decline's too).
        IF v_payer[n] IS NULL THEN
          v_error := ledger_missing_account('payer_account_id', v_item->>'payerAccountId');
        ELSIF v_payee[n] IS NULL THEN
          v_error := ledger_missing_account('payee_account_id', v_item->>'payeeAccountId');
        ELSE
          v_error := ledger_authorize_closed(v_rows[v_payer[n]], v_rows[v_payee[n]]);
        END IF;
        IF v_error IS NULL THEN
          v_p := v_rows[v_payer[n]];
          v_q := v_rows[v_payee[n]];
          v_reason := ledger_authorize_refusal(v_p, v_q, v_item->>'currency', v_amount);
          v_expires := CASE WHEN v_item->>'captureMethod' = 'MANUAL' THEN (v_item->>'holdExpiresAt')::timestamptz END;
          v_status := CASE WHEN v_reason IS NOT NULL THEN 'DECLINED' WHEN v_item->>'captureMethod' = 'MANUAL' THEN 'REQUIRES_CAPTURE'
                           ELSE 'AUTHORIZED' END;
          v_payment := NULL;
          v_payment.id := v_item->>'paymentId';
          v_payment.payer_account_id := v_p.account_id;
          v_payment.payee_account_id := v_q.account_id;
          v_payment.amount_cents := v_amount;
          v_payment.currency := v_item->>'currency';
          v_payment.status := v_status;
          v_payment.decline_reason := v_reason;
          v_payment.description := v_item->>'description';
          v_payment.created_at := v_at;
          v_payment.capture_method := v_item->>'captureMethod';
          v_payment.hold_expires_at := v_expires;
          v_payment.metadata := coalesce(v_item->'metadata', '{}');
          v_state := NULL;
          IF v_reason IS NULL THEN
            v_state.payment_id := v_payment.id;
            v_state.status := v_status;
            v_state.held_cents := CASE WHEN v_status = 'REQUIRES_CAPTURE' THEN v_amount ELSE 0 END;
            v_state.captured_cents := CASE WHEN v_status = 'REQUIRES_CAPTURE' THEN 0 ELSE v_amount END;
            v_state.refunded_cents := 0;
            v_state.hold_expires_at := v_expires;
            v_state.updated_at := v_at;
          END IF;
          IF v_reason IS NULL AND v_status = 'REQUIRES_CAPTURE' THEN
            v_id := nextval('hold_movements_id_seq');
            v_p := ledger_hold_line(v_p, v_amount, v_at);
            v_holds := v_holds || ledger_hold_row(v_p, v_id, v_payment.id, v_amount, v_at);
          ELSIF v_reason IS NULL THEN
            v_id := nextval('ledger_entries_id_seq');
            v_p := ledger_entry_line(v_p, v_id, v_payment.id, -v_amount, v_at);
            v_entries := v_entries || ledger_entry_row(v_p, v_id, v_payment.id, -v_amount, v_at);
            v_id := nextval('ledger_entries_id_seq');
            v_q := ledger_entry_line(v_q, v_id, v_payment.id, v_amount, v_at);
            v_entries := v_entries || ledger_entry_row(v_q, v_id, v_payment.id, v_amount, v_at);
          END IF;
          v_pays := v_pays || v_payment;
          v_pids := v_pids || v_payment.id;
          v_states := v_states || v_state;
          v_state_changed := v_state_changed || (v_reason IS NULL);
          v_new := v_new || true;
          v_new_count := v_new_count + 1;
          v_pay[n] := cardinality(v_pays);
          v_pa := v_payer[n];
          v_pb := v_payee[n];
          v_ev_type := v_ev_type || CASE WHEN v_reason IS NULL THEN 'PaymentAuthorized' ELSE 'PaymentDeclined' END;
          v_ev_payload := v_ev_payload || ledger_authorize_payload(v_item, v_reason, v_expires);
        END IF;
      ELSE
        -- A payment authorized earlier in this batch was not among those read at the start.
        IF v_pay[n] IS NULL AND v_new_count > 0 THEN v_pay[n] := array_position(v_pids, v_item->>'paymentId'); END IF;
        v_payment := CASE WHEN v_pay[n] IS NOT NULL THEN v_pays[v_pay[n]] END;
        v_state := CASE WHEN v_pay[n] IS NOT NULL THEN v_states[v_pay[n]] END;
        v_error := CASE v_what
          WHEN 'capture' THEN ledger_hold_state_error(v_item->>'paymentId', v_state, v_payment.status, 'captured', v_at)
          WHEN 'void' THEN ledger_hold_state_error(v_item->>'paymentId', v_state, v_payment.status, 'voided', v_at)
          WHEN 'expire' THEN ledger_expire_error(v_item->>'paymentId', v_state, v_at)
          ELSE ledger_refund_state_error(v_item->>'paymentId', v_payment, v_state, v_amount) END;
        IF v_error IS NULL THEN
          v_pa := (v_pos->>v_payment.payer_account_id)::int;
          v_pb := (v_pos->>v_payment.payee_account_id)::int;
          v_p := v_rows[v_pa];
          v_q := v_rows[v_pb];
          v_reason := NULL;
          IF v_what = 'capture' THEN
            v_amount := ledger_capture_amount(v_state, v_amount);
            v_error := coalesce(ledger_capture_excess(v_payment.id, v_state, v_amount), ledger_capture_payee_refusal(v_q, v_amount));
          ELSIF v_what = 'refund' THEN
            v_error := ledger_refund_closed(v_p, v_q);
            v_reason := ledger_refund_reason(v_p, v_q, v_amount);
          END IF;
        END IF;
        IF v_error IS NULL THEN
          v_held := v_state.held_cents;
          v_status := NULL;
          IF v_what IN ('capture', 'void', 'expire') THEN
            -- As ledger_hold: the whole hold goes back to the payer's available balance.
            IF v_held <> 0 THEN
              v_id := nextval('hold_movements_id_seq');
              v_p := ledger_hold_line(v_p, -v_held, v_at);
              v_holds := v_holds || ledger_hold_row(v_p, v_id, v_payment.id, -v_held, v_at);
            END IF;
            v_status := CASE v_what WHEN 'capture' THEN 'CAPTURED' WHEN 'void' THEN 'VOIDED' ELSE 'EXPIRED' END;
            v_state.status := v_status;
            v_state.held_cents := 0;
            v_state.updated_at := v_at;
          END IF;
          IF v_what = 'capture' THEN
            v_id := nextval('ledger_entries_id_seq');
            v_id2 := nextval('ledger_entries_id_seq');
            v_p := ledger_entry_line(v_p, v_id, v_payment.id, -v_amount, v_at);
            v_entries := v_entries || ledger_entry_row(v_p, v_id, v_payment.id, -v_amount, v_at);
            v_q := ledger_entry_line(v_q, v_id2, v_payment.id, v_amount, v_at);
            v_entries := v_entries || ledger_entry_row(v_q, v_id2, v_payment.id, v_amount, v_at);
            v_state.captured_cents := v_amount;
            v_ev_payload := v_ev_payload || ledger_capture_payload(v_item, v_payment, v_held, v_amount);
            v_ev_type := v_ev_type || 'PaymentCaptured'::text;
          ELSIF v_what IN ('void', 'expire') THEN
            v_amount := v_held;
            v_ev_payload := v_ev_payload || ledger_release_payload(v_item, v_payment, v_held);
            v_ev_type := v_ev_type || ('Payment' || initcap(v_status));
          ELSE
            v_rf := NULL;
            v_rf.id := v_item->>'refundId';
            v_rf.payment_id := v_payment.id;
            v_rf.amount_cents := v_amount;
            v_rf.reason := v_item->>'reason';
            v_rf.status := CASE WHEN v_reason IS NULL THEN 'REFUNDED' ELSE 'DECLINED' END;
            v_rf.decline_reason := v_reason;
            v_rf.created_at := v_at;
            v_rf.metadata := coalesce(v_item->'metadata', '{}');
            v_refunds := v_refunds || v_rf;
            IF v_reason IS NULL THEN
              -- As ledger_move from the payee to the payer.
              v_id := nextval('ledger_entries_id_seq');
              v_id2 := nextval('ledger_entries_id_seq');
              v_q := ledger_entry_line(v_q, v_id, v_rf.id, -v_amount, v_at);
              v_entries := v_entries || ledger_entry_row(v_q, v_id, v_rf.id, -v_amount, v_at);
              v_p := ledger_entry_line(v_p, v_id2, v_rf.id, v_amount, v_at);
              v_entries := v_entries || ledger_entry_row(v_p, v_id2, v_rf.id, v_amount, v_at);
              v_state.refunded_cents := v_state.refunded_cents + v_amount;
              v_state.updated_at := v_at;
              v_status := 'REFUNDED';
            END IF;
            v_ev_payload := v_ev_payload || ledger_refund_payload(v_item, v_payment, v_reason, v_state.refunded_cents);
            v_ev_type := v_ev_type || CASE WHEN v_reason IS NULL THEN 'PaymentRefunded' ELSE 'PaymentRefundDeclined' END;
          END IF;
        END IF;
      END IF;
      IF v_error IS NULL THEN
        -- The step (not for a declined refund), in both accounts' sequences of payment steps; a
        -- declined authorization's too (its payment has no state).
        IF v_status IS NOT NULL THEN
          v_p.payment_seq := v_p.payment_seq + 1;
          v_q.payment_seq := v_q.payment_seq + 1;
          v_tr_payment := v_tr_payment || v_payment.id;
          v_tr_status := v_tr_status || v_status;
          v_tr_amount := v_tr_amount || v_amount;
          v_tr_at := v_tr_at || v_at;
          v_tr_payer := v_tr_payer || v_p.account_id;
          v_tr_payee := v_tr_payee || v_q.account_id;
          v_tr_payer_seq := v_tr_payer_seq || v_p.payment_seq;
          v_tr_payee_seq := v_tr_payee_seq || v_q.payment_seq;
          v_states[v_pay[n]] := v_state;
          v_state_changed[v_pay[n]] := v_state.payment_id IS NOT NULL;
          v_rows[v_pa] := v_p;
          v_rows[v_pb] := v_q;
          v_changed[v_pa] := true;
          v_changed[v_pb] := true;
        END IF;
        v_ev_item := v_ev_item || n;
        v_ev_aggregate := v_ev_aggregate || 'payment'::text;
        v_ev_aggregate_id := v_ev_aggregate_id || v_payment.id;
        v_result[n] := CASE WHEN v_what = 'refund' THEN ledger_refund_result(v_item, v_reason, ledger_payment_record(v_payment, v_state))
                            ELSE ledger_payment_record(v_payment, v_state) END;
      END IF;
    ELSE
      RAISE EXCEPTION 'ledger_apply_moves: command kind % is not on this path', v_what;
    END IF;

    IF v_error IS NOT NULL THEN
      v_kind[n] := 'error';
      v_result[n] := v_error;
    ELSE
      v_kind[n] := 'fresh';
      v_owner[v_first[n]] := n;
      IF v_item->>'key' IS NOT NULL THEN v_claims := v_claims + 1; END IF;
    END IF;
  END LOOP;

  -- The writes, one statement per table for the whole batch, each in submission order.
  PERFORM ledger_write_balances(ARRAY(SELECT v_rows[i] FROM generate_subscripts(v_rows, 1) i WHERE v_changed[i]));
  IF v_new_count > 0 THEN
    INSERT INTO payments SELECT * FROM unnest(ARRAY(SELECT v_pays[i] FROM generate_subscripts(v_pays, 1) i WHERE v_new[i]));
    INSERT INTO payment_states
      SELECT * FROM unnest(ARRAY(SELECT v_states[i] FROM generate_subscripts(v_states, 1) i WHERE v_new[i] AND v_state_changed[i]));
  END IF;
  IF cardinality(v_tr_payment) > v_new_count THEN
    UPDATE payment_states s SET status = r.status, held_cents = r.held_cents, captured_cents = r.captured_cents,
        refunded_cents = r.refunded_cents, updated_at = r.updated_at
      FROM unnest(ARRAY(SELECT v_states[i] FROM generate_subscripts(v_states, 1) i WHERE v_state_changed[i] AND NOT v_new[i])) r
      WHERE s.payment_id = r.payment_id;
  END IF;
  IF cardinality(v_deposits) > 0 THEN INSERT INTO deposits SELECT * FROM unnest(v_deposits); END IF;
  IF cardinality(v_withdrawals) > 0 THEN INSERT INTO withdrawals SELECT * FROM unnest(v_withdrawals); END IF;
  IF cardinality(v_refunds) > 0 THEN INSERT INTO refunds SELECT * FROM unnest(v_refunds); END IF;
  IF cardinality(v_entries) > 0 THEN INSERT INTO ledger_entries SELECT * FROM unnest(v_entries); END IF;
  IF cardinality(v_holds) > 0 THEN INSERT INTO hold_movements SELECT * FROM unnest(v_holds); END IF;
  IF cardinality(v_tr_payment) > 0 THEN
    INSERT INTO payment_transitions (payment_id, status, amount_cents, created_at, payer_account_id, payee_account_id, payer_seq, payee_seq)
      SELECT payment_id, status, amount, at, payer, payee, payer_seq, payee_seq
        FROM unnest(v_tr_payment, v_tr_status, v_tr_amount, v_tr_at, v_tr_payer, v_tr_payee, v_tr_payer_seq, v_tr_payee_seq)
             WITH ORDINALITY t(payment_id, status, amount, at, payer, payee, payer_seq, payee_seq, ord)
        ORDER BY ord;
  END IF;
  INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent)
    SELECT i->>'eventId', e.type, e.aggregate, e.aggregate_id, ledger_envelope(i, e.type, e.aggregate, e.aggregate_id, e.payload),
           i->>'traceparent'
      FROM unnest(v_ev_item, v_ev_type, v_ev_aggregate, v_ev_aggregate_id, v_ev_payload)
           WITH ORDINALITY e(item, type, aggregate, aggregate_id, payload, ord)
      CROSS JOIN LATERAL (SELECT p_items->(e.item - 1) AS i) it
      ORDER BY e.ord;

  -- The keys with their results, then one outcome per item.
  WITH item AS (
    SELECT it.ord, it.i, d.kind, d.ref, d.result
      FROM jsonb_array_elements(p_items) WITH ORDINALITY it(i, ord)
      JOIN unnest(v_kind, v_ref, v_result) WITH ORDINALITY d(kind, ref, result, ord) ON d.ord = it.ord
  ), keys AS (
    INSERT INTO idempotency_keys AS k (client_id, key, method, request_hash, result, expires_at)
      SELECT i->>'clientId', i->>'key', i->>'method', i->>'requestHash', result, now() + make_interval(hours => p_ttl_hours)
        FROM item WHERE kind = 'fresh' AND i->>'key' IS NOT NULL
      ON CONFLICT (client_id, key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
        result = excluded.result, created_at = now(), expires_at = excluded.expires_at
      WHERE k.expires_at <= now()
      RETURNING 1
  )
  SELECT (SELECT count(*) FROM keys),
         jsonb_agg(CASE item.kind
             WHEN 'fresh' THEN jsonb_build_object('replayed', false, 'result', item.result)
             WHEN 'error' THEN item.result
             WHEN 'batch' THEN ledger_replay(item.i, owner.i->>'method', owner.i->>'requestHash', owner.result)
             ELSE (SELECT ledger_replay(item.i, k.method, k.request_hash, k.result)
                     FROM idempotency_keys k WHERE k.client_id = item.i->>'clientId' AND k.key = item.i->>'key') END
           ORDER BY item.ord)
    INTO v_claimed, v_outcomes
    FROM item LEFT JOIN item owner ON owner.ord = item.ref;
  IF v_claimed <> v_claims THEN
    RAISE EXCEPTION 'an idempotency key of this batch was claimed concurrently' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN v_outcomes;
END;
$$;
