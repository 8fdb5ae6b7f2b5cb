-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- ledger_audit: who caused each write ledger_apply applied (issue 21, docs/tenants.md). One INSERT
-- per batch, whichever path applied it, from the items (tenant, client, key, token, kind, time)
-- and their outcomes (subject and accounts from the stored result): only items applied now;
-- replays and refusals record nothing. Returns the outcomes unchanged, so ledger_apply ends with
-- `RETURN ledger_audit(p_items, <outcomes>)`. An atomic batch that rolls back takes its rows along.
CREATE OR REPLACE FUNCTION ledger_audit(p_items jsonb, p_outcomes jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_events (tenant_id, client_id, key_id, token_id, action, subject_id, account_ids, created_at)
  SELECT coalesce(i->>'tenantId', 'default'), i->>'clientId', i->>'keyId', i->>'tokenId', i->>'kind',
         coalesce(i->>'refundId', i->>'depositId', i->>'withdrawalId', i->>'paymentId', i->>'accountId'),
         array_remove(array_remove(ARRAY[r->>'accountId', r->>'payerAccountId', r->>'payeeAccountId'], NULL), '')
           || CASE WHEN r ? 'splits' THEN ARRAY(SELECT s->>'payeeAccountId' FROM jsonb_array_elements(r->'splits') s) ELSE '{}' END,
         (i->>'at')::timestamptz
    -- Items and outcomes side by side (one scan of each, no join).
    FROM (SELECT i, coalesce(o->'result'->'payment', o->'result') AS r
            FROM ROWS FROM (jsonb_array_elements(p_items), jsonb_array_elements(p_outcomes)) z(i, o)
           WHERE o ? 'result' AND NOT coalesce((o->>'replayed')::boolean, false)) x;
  RETURN p_outcomes;
END;
$$;
