-- The function ledger_authorize_payments first appeared here. Database functions now live as source
-- files in src/ledger/sql/, re-applied on every migrate (src/db/migrate.ts), so a rule change is an
-- edit of one file. This migration is kept so the journal of existing databases stays valid.
SELECT 1;
