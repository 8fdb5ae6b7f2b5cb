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
-- Statement lines written before this migration are numbered once, per account, in the order the
-- statement showed them until now (time, hold movements before entries at one instant, then id),
-- with the ledger and held balances right after each. Later lines are numbered by the trigger in
-- drizzle/functions/40-entry-chain.sql. The append-only triggers are lifted for exactly this.
ALTER TABLE "ledger_entries" DISABLE TRIGGER ledger_entries_append_only;--> statement-breakpoint
ALTER TABLE "hold_movements" DISABLE TRIGGER hold_movements_append_only;--> statement-breakpoint
DO $$
DECLARE
  r record;
  v_account text := NULL;
  v_seq bigint;
  v_ledger bigint;
  v_held bigint;
BEGIN
  FOR r IN
    SELECT 1 AS rank, e.id, e.account_id, e.created_at, e.account_seq AS ord, e.balance_after_cents AS ledger_after, 0::bigint AS held_delta
      FROM ledger_entries e
    UNION ALL
    SELECT 0, h.id, h.account_id, h.created_at, h.id, NULL, CASE WHEN h.kind = 'HELD' THEN h.amount_cents ELSE -h.amount_cents END
      FROM hold_movements h
    ORDER BY account_id, created_at, rank, ord
  LOOP
    IF v_account IS DISTINCT FROM r.account_id THEN
      v_account := r.account_id; v_seq := 0; v_ledger := 0; v_held := 0;
    END IF;
    v_seq := v_seq + 1;
    v_held := v_held + r.held_delta;
    IF r.rank = 1 THEN
      v_ledger := r.ledger_after;
      UPDATE ledger_entries SET line_seq = v_seq, held_after_cents = v_held WHERE id = r.id;
    ELSE
      UPDATE hold_movements SET line_seq = v_seq, ledger_after_cents = v_ledger, held_after_cents = v_held WHERE id = r.id;
    END IF;
  END LOOP;
END;
$$;--> statement-breakpoint
ALTER TABLE "ledger_entries" ENABLE TRIGGER ledger_entries_append_only;--> statement-breakpoint
ALTER TABLE "hold_movements" ENABLE TRIGGER hold_movements_append_only;--> statement-breakpoint
-- Overdraft limits set before this migration are taken as in force since the account was opened
-- (no earlier record exists); later changes are recorded by drizzle/functions/45-overdraft-history.sql.
INSERT INTO "overdraft_limit_changes" ("account_id", "overdraft_limit_cents", "created_at")
  SELECT b."account_id", b."overdraft_limit_cents", a."created_at" FROM "balances" b JOIN "accounts" a ON a."id" = b."account_id"
  WHERE b."overdraft_limit_cents" <> 0;