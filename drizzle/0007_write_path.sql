-- The write path without a database-wide lock (src/ledger/sql/10-ledger-lines.sql): the head of
-- every account's history moves onto its balance row, foreign keys and indexes that no query or
-- invariant needs leave the hot tables (docs/write-path.md names what each remaining one is for).
-- Existing balance rows get NULL heads here (new rows 0); 40-entry-chain.sql fills them right after.
ALTER TABLE "deposits" DROP CONSTRAINT "deposits_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "hold_movements" DROP CONSTRAINT "hold_movements_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "hold_movements" DROP CONSTRAINT "hold_movements_payment_id_payments_id_fk";
--> statement-breakpoint
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "payment_states" DROP CONSTRAINT "payment_states_payment_id_payments_id_fk";
--> statement-breakpoint
ALTER TABLE "payment_transitions" DROP CONSTRAINT "payment_transitions_payment_id_payments_id_fk";
--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_payer_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "payments" DROP CONSTRAINT "payments_payee_account_id_accounts_id_fk";
--> statement-breakpoint
ALTER TABLE "refunds" DROP CONSTRAINT "refunds_payment_id_payments_id_fk";
--> statement-breakpoint
ALTER TABLE "withdrawals" DROP CONSTRAINT "withdrawals_account_id_accounts_id_fk";
--> statement-breakpoint
DROP INDEX "hold_movements_account_idx";--> statement-breakpoint
DROP INDEX "ledger_entries_account_idx";--> statement-breakpoint
DROP INDEX "ledger_entries_account_seq_idx";--> statement-breakpoint
DROP INDEX "ledger_entries_transfer_idx";--> statement-breakpoint
DROP INDEX "payment_transitions_payment_idx";--> statement-breakpoint
DROP INDEX "payment_transitions_payer_idx";--> statement-breakpoint
DROP INDEX "payment_transitions_payee_idx";--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "entry_seq" bigint;--> statement-breakpoint
ALTER TABLE "balances" ALTER COLUMN "entry_seq" SET DEFAULT 0;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "line_seq" bigint;--> statement-breakpoint
ALTER TABLE "balances" ALTER COLUMN "line_seq" SET DEFAULT 0;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "chain_hash" text;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "payment_seq" bigint;--> statement-breakpoint
ALTER TABLE "balances" ALTER COLUMN "payment_seq" SET DEFAULT 0;--> statement-breakpoint
ALTER TABLE "payment_transitions" ADD COLUMN "payer_seq" bigint;--> statement-breakpoint
ALTER TABLE "payment_transitions" ADD COLUMN "payee_seq" bigint;--> statement-breakpoint
-- Every existing step gets its position per account (payer and payee share one sequence per
-- account), in id order, which was commit order while ledger_apply serialised all writers.
ALTER TABLE "payment_transitions" DISABLE TRIGGER payment_transitions_append_only;--> statement-breakpoint
WITH sides AS (
  SELECT id, payer_account_id AS account_id, true AS payer FROM payment_transitions
  UNION ALL
  SELECT id, payee_account_id, false FROM payment_transitions
), numbered AS (
  SELECT id, payer, row_number() OVER (PARTITION BY account_id ORDER BY id) AS n FROM sides
)
UPDATE payment_transitions t SET payer_seq = p.n, payee_seq = q.n
  FROM numbered p, numbered q WHERE p.id = t.id AND p.payer AND q.id = t.id AND NOT q.payer;--> statement-breakpoint
ALTER TABLE "payment_transitions" ENABLE TRIGGER payment_transitions_append_only;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payer_seq" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payee_seq" SET NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "payment_transitions_payer_step_idx" ON "payment_transitions" USING btree ("payer_account_id","payer_seq");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_transitions_payee_step_idx" ON "payment_transitions" USING btree ("payee_account_id","payee_seq");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_distinct_accounts" CHECK ("payments"."payer_account_id" <> "payments"."payee_account_id");