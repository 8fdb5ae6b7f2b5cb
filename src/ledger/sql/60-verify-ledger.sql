-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Verification of the whole ledger, one row per violation (none when the ledger is sound). Used by
-- AdminService.VerifyLedger and `npm run verify`. Checks:
--   CURRENCY_UNBALANCED  the entries of a currency do not sum to zero (double entry broken);
--   BALANCE_MISMATCH     an account's ledger balance (available_cents + held_cents) differs from the
--                        sum of its entries (a hold moves money from available to held, no entry);
--   HELD_MISMATCH        an account's held_cents differs from the sum of its hold movements (HELD
--                        minus RELEASED): a hold changed the balance without its record, or back;
--   OPEN_HOLDS_MISMATCH  an account's held_cents differs from the held_cents of its payer's open
--                        payments (payment_states in REQUIRES_CAPTURE): money is held for a payment
--                        that is no longer open, or an open payment's hold is missing;
--   RUNNING_BALANCE      an entry's balance_after_cents is not the previous one plus its amount;
--   SEQUENCE_GAP         an account's entries are not numbered 1, 2, 3, ... without gaps;
--   HASH_MISMATCH        an entry's hash is not SHA-256 over its content and the previous hash: the
--                        entry (or the one before it) was changed after it was written;
--   LINE_SEQUENCE        an account's statement lines (entries and hold movements together) are not
--                        numbered 1, 2, 3, ... without gaps or repeats (40-entry-chain.sql);
--   LINE_BALANCE         a line's stored ledger or held balance after it is not the running sum of
--                        the account's lines up to it (the statement would show a wrong balance);
--   HEAD_MISMATCH        an account's balance row does not hold the head of its history (the last
--                        entry's sequence and hash, the last line's number, the last payment step's
--                        position): the next line would be numbered or chained wrong (12-ledger-lines.sql);
--   STEP_SEQUENCE        an account's payment steps (as payer, payee and split payee together) are not numbered
--                        1, 2, 3, ... without gaps or repeats (WatchPayments positions);
--   CLOSED_NOT_EMPTY     a closed account (CloseAccount) holds money, or has a statement line written
--                        after its closing: the closed-account rule (ledger_closed_refusal) was bypassed;
--   SPLIT_SUM            a split payment's legs do not sum to its amount, or a payment has legs and
--                        a payee of its own, or neither (21-ledger-splits.sql);
--   SPLIT_BOUNDS         a leg's captured amount is not within 0..its amount, or its refunded amount
--                        not within 0..its captured amount;
--   SPLIT_TOTALS         a split payment's captured or refunded amount is not the sum of its legs';
--   LEG_ENTRIES          a leg's payee did not receive its captured amount in entries of the
--                        payment, or did not give back its refunded amount in entries of the
--                        payment's refunds;
--   ORPHAN               a row names an account or payment that does not exist (the hot tables have
--                        no foreign keys: ledger_apply locks the balance row of every account it
--                        writes for, so this finds rows written some other way).
-- Reads run in one REPEATABLE READ snapshot when the caller asks for it (src/ledger/verify.ts).
CREATE OR REPLACE FUNCTION ledger_verify()
RETURNS TABLE (check_name text, subject text, detail text) LANGUAGE sql STABLE AS $$
  SELECT 'CURRENCY_UNBALANCED', currency, 'entries sum to ' || sum(amount_cents) || ', not 0'
    FROM ledger_entries GROUP BY currency HAVING sum(amount_cents) <> 0
  UNION ALL
  SELECT 'BALANCE_MISMATCH', b.account_id,
         'ledger balance is ' || (b.available_cents + b.held_cents) || ' (available ' || b.available_cents ||
         ' + held ' || b.held_cents || ') but its entries sum to ' || coalesce(e.total, 0)
    FROM balances b
    LEFT JOIN (SELECT account_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY account_id) e
      ON e.account_id = b.account_id
    WHERE b.available_cents::numeric + b.held_cents <> coalesce(e.total, 0)
  UNION ALL
  SELECT 'HELD_MISMATCH', b.account_id,
         'held is ' || b.held_cents || ' but its hold movements sum to ' || coalesce(m.total, 0)
    FROM balances b
    LEFT JOIN (SELECT account_id, sum(CASE WHEN kind = 'HELD' THEN amount_cents ELSE -amount_cents END) AS total
                 FROM hold_movements GROUP BY account_id) m
      ON m.account_id = b.account_id
    WHERE b.held_cents <> coalesce(m.total, 0)
  UNION ALL
  SELECT 'OPEN_HOLDS_MISMATCH', b.account_id,
         'held is ' || b.held_cents || ' but its open payments (REQUIRES_CAPTURE) hold ' || coalesce(o.total, 0)
    FROM balances b
    LEFT JOIN (SELECT p.payer_account_id AS account_id, sum(s.held_cents) AS total
                 FROM payment_states s JOIN payments p ON p.id = s.payment_id
                WHERE s.status = 'REQUIRES_CAPTURE' GROUP BY p.payer_account_id) o
      ON o.account_id = b.account_id
    WHERE b.held_cents <> coalesce(o.total, 0)
  UNION ALL
  (WITH chain AS (
     SELECT e.*,
            lag(account_seq) OVER w AS prev_seq,
            lag(balance_after_cents) OVER w AS prev_balance,
            lag(entry_hash) OVER w AS prev_hash
       FROM ledger_entries e
       WINDOW w AS (PARTITION BY account_id ORDER BY account_seq, id))
   SELECT 'SEQUENCE_GAP', 'entry ' || id,
          'account ' || account_id || ': sequence ' || coalesce(account_seq::text, 'missing') || ' follows ' ||
          coalesce(prev_seq::text, 'nothing')
     FROM chain WHERE account_seq IS DISTINCT FROM coalesce(prev_seq, 0) + 1
   UNION ALL
   SELECT 'RUNNING_BALANCE', 'entry ' || id,
          'account ' || account_id || ' sequence ' || account_seq || ': balance after is ' ||
          coalesce(balance_after_cents::text, 'missing') || ', expected ' || (coalesce(prev_balance, 0) + amount_cents)
     FROM chain WHERE balance_after_cents IS DISTINCT FROM coalesce(prev_balance, 0) + amount_cents
   UNION ALL
   SELECT 'HASH_MISMATCH', 'entry ' || id,
          'account ' || account_id || ' sequence ' || account_seq || ': stored hash does not match its content'
     FROM chain
     WHERE entry_hash IS DISTINCT FROM ledger_entry_hash(prev_hash, id, account_id, transfer_id, amount_cents, currency,
                                                         created_at, account_seq, balance_after_cents))
  UNION ALL
  (WITH lines AS (
     SELECT 'entry ' || id AS subject, account_id, line_seq, amount_cents AS ledger_delta, 0::bigint AS held_delta,
            balance_after_cents AS ledger_after, held_after_cents AS held_after
       FROM ledger_entries
     UNION ALL
     SELECT 'hold movement ' || id, account_id, line_seq, 0, CASE WHEN kind = 'HELD' THEN amount_cents ELSE -amount_cents END,
            ledger_after_cents, held_after_cents
       FROM hold_movements
   ), numbered AS (
     SELECT l.*, lag(line_seq) OVER w AS prev_seq, sum(ledger_delta) OVER w AS running_ledger, sum(held_delta) OVER w AS running_held
       FROM lines l
       WINDOW w AS (PARTITION BY account_id ORDER BY line_seq, subject ROWS UNBOUNDED PRECEDING))
   SELECT 'LINE_SEQUENCE', subject,
          'account ' || account_id || ': line ' || coalesce(line_seq::text, 'missing') || ' follows ' || coalesce(prev_seq::text, 'nothing')
     FROM numbered WHERE line_seq IS DISTINCT FROM coalesce(prev_seq, 0) + 1
   UNION ALL
   SELECT 'LINE_BALANCE', subject,
          'account ' || account_id || ' line ' || line_seq || ': stored ledger ' || coalesce(ledger_after::text, 'missing') ||
          ' and held ' || coalesce(held_after::text, 'missing') || ' after it, expected ' || running_ledger || ' and ' || running_held
     FROM numbered WHERE ledger_after IS DISTINCT FROM running_ledger OR held_after IS DISTINCT FROM running_held)
  UNION ALL
  SELECT 'HEAD_MISMATCH', b.account_id,
         format('balance row holds entry %s, line %s, step %s, hash %s; its history ends at entry %s, line %s, step %s, hash %s',
                b.entry_seq, b.line_seq, b.payment_seq, coalesce(left(b.chain_hash, 12), 'none'),
                coalesce(e.account_seq, 0), greatest(coalesce(e.line_seq, 0), coalesce(h.line_seq, 0)), coalesce(t.seq, 0),
                coalesce(left(e.entry_hash, 12), 'none'))
    FROM balances b
    LEFT JOIN LATERAL (SELECT account_seq, line_seq, entry_hash FROM ledger_entries WHERE account_id = b.account_id
                        ORDER BY line_seq DESC LIMIT 1) e ON true
    LEFT JOIN LATERAL (SELECT max(line_seq) AS line_seq FROM hold_movements WHERE account_id = b.account_id) h ON true
    LEFT JOIN LATERAL (SELECT greatest((SELECT max(payer_seq) FROM payment_transitions WHERE payer_account_id = b.account_id),
                                       (SELECT max(payee_seq) FROM payment_transitions WHERE payee_account_id = b.account_id),
                                       (SELECT max(payee_seq) FROM payment_split_steps WHERE payee_account_id = b.account_id)) AS seq) t ON true
    WHERE b.entry_seq IS DISTINCT FROM coalesce(e.account_seq, 0)
       OR b.chain_hash IS DISTINCT FROM e.entry_hash
       OR b.line_seq IS DISTINCT FROM greatest(coalesce(e.line_seq, 0), coalesce(h.line_seq, 0))
       OR b.payment_seq IS DISTINCT FROM coalesce(t.seq, 0)
  UNION ALL
  (WITH steps AS (
     SELECT id, payer_account_id AS account_id, payer_seq AS seq FROM payment_transitions
     UNION ALL
     SELECT id, payee_account_id, payee_seq FROM payment_transitions WHERE payee_account_id IS NOT NULL
     UNION ALL
     SELECT transition_id, payee_account_id, payee_seq FROM payment_split_steps
   ), numbered AS (
     SELECT s.*, lag(seq) OVER (PARTITION BY account_id ORDER BY seq, id) AS prev_seq FROM steps s)
   SELECT 'STEP_SEQUENCE', 'transition ' || id,
          'account ' || account_id || ': payment step ' || coalesce(seq::text, 'missing') || ' follows ' || coalesce(prev_seq::text, 'nothing')
     FROM numbered WHERE seq IS DISTINCT FROM coalesce(prev_seq, 0) + 1)
  UNION ALL
  SELECT 'CLOSED_NOT_EMPTY', b.account_id,
         'closed at ' || ledger_iso(b.closed_at) || ' but has ' || b.available_cents || ' available and ' || b.held_cents || ' held'
           || CASE WHEN l.line_seq IS NOT NULL THEN ', and statement line ' || l.line_seq || ' written after the closing' ELSE '' END
    FROM balances b
    LEFT JOIN LATERAL (
      SELECT min(x.line_seq) AS line_seq FROM (
        SELECT line_seq FROM ledger_entries e WHERE e.account_id = b.account_id AND e.created_at > b.closed_at
        UNION ALL SELECT line_seq FROM hold_movements m WHERE m.account_id = b.account_id AND m.created_at > b.closed_at) x) l ON true
    WHERE b.closed_at IS NOT NULL AND (b.available_cents <> 0 OR b.held_cents <> 0 OR l.line_seq IS NOT NULL)
  UNION ALL
  (WITH refs AS (
     SELECT 'entry ' || id AS subject, account_id, NULL::text AS payment_id FROM ledger_entries
     UNION ALL SELECT 'hold movement ' || id, account_id, payment_id FROM hold_movements
     UNION ALL SELECT 'payment ' || id, payer_account_id, NULL FROM payments
     UNION ALL SELECT 'payment ' || id, payee_account_id, NULL FROM payments
     UNION ALL SELECT 'deposit ' || id, account_id, NULL FROM deposits
     UNION ALL SELECT 'withdrawal ' || id, account_id, NULL FROM withdrawals
     UNION ALL SELECT 'transition ' || id, NULL, payment_id FROM payment_transitions
     UNION ALL SELECT 'payment state ' || payment_id, NULL, payment_id FROM payment_states
     UNION ALL SELECT 'refund ' || id, NULL, payment_id FROM refunds
     UNION ALL SELECT 'payment split ' || payment_id || '/' || position, payee_account_id, payment_id FROM payment_splits
     UNION ALL SELECT 'split step ' || transition_id || '/' || payee_account_id, payee_account_id, NULL FROM payment_split_steps)
   SELECT 'ORPHAN', r.subject,
          CASE WHEN r.account_id IS NOT NULL AND a.id IS NULL THEN 'names account ' || r.account_id || ', which does not exist'
               ELSE 'names payment ' || r.payment_id || ', which does not exist' END
     FROM refs r
     LEFT JOIN accounts a ON a.id = r.account_id
     LEFT JOIN payments p ON p.id = r.payment_id
    WHERE (r.account_id IS NOT NULL AND a.id IS NULL) OR (r.payment_id IS NOT NULL AND p.id IS NULL))
  UNION ALL
  SELECT 'SPLIT_SUM', 'payment ' || p.id,
         CASE WHEN p.payee_account_id IS NOT NULL THEN 'has payee ' || p.payee_account_id || ' and ' || l.legs || ' legs'
              WHEN l.legs IS NULL THEN 'has neither a payee nor legs'
              ELSE 'legs sum to ' || l.total || ', the amount is ' || p.amount_cents END
    FROM payments p
    LEFT JOIN (SELECT payment_id, count(*) AS legs, sum(amount_cents) AS total FROM payment_splits GROUP BY payment_id) l ON l.payment_id = p.id
    WHERE (p.payee_account_id IS NULL) <> (l.legs IS NOT NULL) OR l.total <> p.amount_cents
  UNION ALL
  SELECT 'SPLIT_BOUNDS', 'payment ' || payment_id,
         format('leg %s (%s): amount %s, captured %s, refunded %s', position, payee_account_id, amount_cents, captured_cents, refunded_cents)
    FROM payment_splits
    WHERE captured_cents NOT BETWEEN 0 AND amount_cents OR refunded_cents NOT BETWEEN 0 AND captured_cents
  UNION ALL
  SELECT 'SPLIT_TOTALS', 'payment ' || l.payment_id,
         format('legs captured %s and refunded %s; the payment captured %s and refunded %s', l.captured, l.refunded,
                coalesce(s.captured_cents, 0), coalesce(s.refunded_cents, 0))
    FROM (SELECT payment_id, sum(captured_cents) AS captured, sum(refunded_cents) AS refunded FROM payment_splits GROUP BY payment_id) l
    LEFT JOIN payment_states s ON s.payment_id = l.payment_id
    WHERE l.captured <> coalesce(s.captured_cents, 0) OR l.refunded <> coalesce(s.refunded_cents, 0)
  UNION ALL
  SELECT 'LEG_ENTRIES', 'payment ' || l.payment_id,
         format('leg %s (%s): captured %s and refunded %s, but its entries brought %s and took back %s', l.position, l.payee_account_id,
                l.captured_cents, l.refunded_cents, coalesce(g.total, 0), coalesce(b.total, 0))
    FROM payment_splits l
    LEFT JOIN (SELECT e.account_id, e.transfer_id, sum(e.amount_cents) AS total
                 FROM ledger_entries e JOIN payment_splits x ON x.payment_id = e.transfer_id AND x.payee_account_id = e.account_id
                GROUP BY e.account_id, e.transfer_id) g ON g.transfer_id = l.payment_id AND g.account_id = l.payee_account_id
    LEFT JOIN (SELECT r.payment_id, e.account_id, -sum(e.amount_cents) AS total
                 FROM refunds r JOIN ledger_entries e ON e.transfer_id = r.id
                 JOIN payment_splits x ON x.payment_id = r.payment_id AND x.payee_account_id = e.account_id
                GROUP BY r.payment_id, e.account_id) b ON b.payment_id = l.payment_id AND b.account_id = l.payee_account_id
    WHERE coalesce(g.total, 0) <> l.captured_cents OR coalesce(b.total, 0) <> l.refunded_cents
$$;
