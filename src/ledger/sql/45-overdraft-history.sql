-- Re-applied on every migrate (src/db/migrate.ts): edit this file, not a migration.
-- Records every overdraft limit an account gets, and since when, so a balance as of an instant
-- (GetAccountBalance as_of, src/ledger/history.ts) reports the limit in force then. A trigger on
-- balances covers every writer (account creation, UpdateAccount). Its WHEN clause is evaluated by
-- PostgreSQL itself, so the money path, which updates balances on every payment without touching
-- the limit, never calls the function.
CREATE OR REPLACE FUNCTION ledger_record_overdraft_limit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO overdraft_limit_changes (account_id, overdraft_limit_cents, created_at)
    VALUES (NEW.account_id, NEW.overdraft_limit_cents, NEW.updated_at);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS balances_overdraft_limit_history ON balances;
CREATE TRIGGER balances_overdraft_limit_history AFTER UPDATE OF overdraft_limit_cents ON balances
  FOR EACH ROW WHEN (OLD.overdraft_limit_cents IS DISTINCT FROM NEW.overdraft_limit_cents)
  EXECUTE FUNCTION ledger_record_overdraft_limit();

DROP TRIGGER IF EXISTS balances_overdraft_limit_initial ON balances;
CREATE TRIGGER balances_overdraft_limit_initial AFTER INSERT ON balances
  FOR EACH ROW WHEN (NEW.overdraft_limit_cents <> 0)
  EXECUTE FUNCTION ledger_record_overdraft_limit();
