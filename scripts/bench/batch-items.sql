-- The items batch-function.pgbench hands ledger_apply, built in SQL in the form the service sends
-- (src/ledger/commands.ts): `p_items` authorizations of client `p_client`, call `p_batch`, payers
-- and payees drawn over `p_accounts` accounts named `p_prefix` || n (uniform, or every payment to
-- account 1 when `p_hot`), amounts 1..`p_max_amount`. A function of the load generator, installed
-- by scripts/bench/pgbench.ts before the function rows, so that pgbench's own statement is a plain
-- call: written inline, PostgreSQL planned that statement again on every call (a custom plan for
-- the parameters), about 0.2 ms per call counted as the database's CPU of the ledger's rows.
-- Its one query runs on a generic plan for the same reason; ledger_apply runs after it returns,
-- under the session's own settings.
CREATE OR REPLACE FUNCTION bench_batch_items(p_client int, p_batch bigint, p_items int, p_accounts int, p_prefix text,
    p_hot int, p_max_amount int) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN (
    SELECT jsonb_agg(jsonb_build_object('kind', 'authorize', 'clientId', 'pgbench', 'key', 'b' || p_client || '-' || p_batch || '-' || g,
             'method', 'AuthorizePayment', 'requestHash', md5(g::text), 'paymentId', 'p' || p_client || '-' || p_batch || '-' || g,
             'payerAccountId', p_prefix || payer, 'payeeAccountId', p_prefix || payee,
             'amountCents', (1 + floor(random() * p_max_amount))::bigint::text, 'currency', 'EUR', 'description', 'pgbench',
             'captureMethod', 'AUTOMATIC', 'holdExpiresAt', null,
             'at', ledger_iso(now()), 'eventId', 'e' || p_client || '-' || p_batch || '-' || g,
             'traceparent', null) ORDER BY g)
    FROM (SELECT g, payer, CASE WHEN p_hot = 1 THEN 1 WHEN other >= payer THEN other + 1 ELSE other END AS payee
          FROM (SELECT g, CASE WHEN p_hot = 1 THEN 2 + floor(random() * (p_accounts - 1))::int ELSE 1 + floor(random() * p_accounts)::int END AS payer,
                       1 + floor(random() * (p_accounts - 1))::int AS other
                FROM generate_series(1, p_items) g) r) s);
END;
$$;
