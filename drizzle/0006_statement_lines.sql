CREATE TABLE "overdraft_limit_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"overdraft_limit_cents" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "hold_movements" ADD COLUMN "line_seq" bigint;--> statement-breakpoint
ALTER TABLE "hold_movements" ADD COLUMN "ledger_after_cents" bigint;--> statement-breakpoint
ALTER TABLE "hold_movements" ADD COLUMN "held_after_cents" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "line_seq" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "held_after_cents" bigint;--> statement-breakpoint
ALTER TABLE "payment_transitions" ADD COLUMN "payer_account_id" text;--> statement-breakpoint
ALTER TABLE "payment_transitions" ADD COLUMN "payee_account_id" text;--> statement-breakpoint
-- Transitions written before this migration get their payment's accounts (the append-only trigger
-- is lifted for exactly this update).
ALTER TABLE "payment_transitions" DISABLE TRIGGER payment_transitions_append_only;--> statement-breakpoint
UPDATE "payment_transitions" t SET "payer_account_id" = p."payer_account_id", "payee_account_id" = p."payee_account_id"
  FROM "payments" p WHERE p."id" = t."payment_id";--> statement-breakpoint
ALTER TABLE "payment_transitions" ENABLE TRIGGER payment_transitions_append_only;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payer_account_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payee_account_id" SET NOT NULL;--> statement-breakpoint
-- Every payment now has a first transition, declines included (WatchPayments streams an account's
-- transitions); declined payments recorded before this migration get theirs.
INSERT INTO "payment_transitions" ("payment_id", "status", "amount_cents", "created_at", "payer_account_id", "payee_account_id")
  SELECT p."id", 'DECLINED', p."amount_cents", p."created_at", p."payer_account_id", p."payee_account_id" FROM "payments" p
  WHERE p."status" = 'DECLINED' AND NOT EXISTS (SELECT 1 FROM "payment_transitions" t WHERE t."payment_id" = p."id");--> statement-breakpoint
ALTER TABLE "overdraft_limit_changes" ADD CONSTRAINT "overdraft_limit_changes_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "overdraft_limit_changes_account_time_idx" ON "overdraft_limit_changes" USING btree ("account_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "hold_movements_account_line_idx" ON "hold_movements" USING btree ("account_id","line_seq");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_account_line_idx" ON "ledger_entries" USING btree ("account_id","line_seq");--> statement-breakpoint
CREATE INDEX "payment_transitions_payer_idx" ON "payment_transitions" USING btree ("payer_account_id","id");--> statement-breakpoint
CREATE INDEX "payment_transitions_payee_idx" ON "payment_transitions" USING btree ("payee_account_id","id");--> statement-breakpoint
-- Lines written before this migration are numbered by the backfill in src/ledger/sql/40-entry-chain.sql
-- (after the entry chain's own backfill, which it needs).
-- Overdraft limits set before this migration are taken as in force since the account was opened
-- (no earlier record exists); later changes are recorded by src/ledger/sql/45-overdraft-history.sql.
INSERT INTO "overdraft_limit_changes" ("account_id", "overdraft_limit_cents", "created_at")
  SELECT b."account_id", b."overdraft_limit_cents", a."created_at" FROM "balances" b JOIN "accounts" a ON a."id" = b."account_id"
  WHERE b."overdraft_limit_cents" <> 0;