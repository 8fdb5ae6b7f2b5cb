CREATE TABLE "hold_movements" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"payment_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hold_movements_amount_positive" CHECK ("hold_movements"."amount_cents" > 0)
);
--> statement-breakpoint
CREATE TABLE "payment_states" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"held_cents" bigint NOT NULL,
	"captured_cents" bigint NOT NULL,
	"refunded_cents" bigint DEFAULT 0 NOT NULL,
	"hold_expires_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_states_refunds_within_captured" CHECK ("payment_states"."refunded_cents" >= 0 AND "payment_states"."refunded_cents" <= "payment_states"."captured_cents")
);
--> statement-breakpoint
CREATE TABLE "payment_transitions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"status" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"status" text NOT NULL,
	"decline_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "refunds_amount_positive" CHECK ("refunds"."amount_cents" > 0)
);
--> statement-breakpoint
CREATE TABLE "withdrawals" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"currency" text NOT NULL,
	"reference" text DEFAULT '' NOT NULL,
	"status" text NOT NULL,
	"decline_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "withdrawals_amount_positive" CHECK ("withdrawals"."amount_cents" > 0)
);
--> statement-breakpoint
ALTER TABLE "balances" DROP CONSTRAINT "balances_non_negative";--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "held_cents" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "overdraft_limit_cents" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "capture_method" text DEFAULT 'AUTOMATIC' NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "hold_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "hold_movements" ADD CONSTRAINT "hold_movements_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hold_movements" ADD CONSTRAINT "hold_movements_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_states" ADD CONSTRAINT "payment_states_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_transitions" ADD CONSTRAINT "payment_transitions_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "refunds" ADD CONSTRAINT "refunds_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "hold_movements_account_idx" ON "hold_movements" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "payment_states_open_holds_idx" ON "payment_states" USING btree ("hold_expires_at") WHERE "payment_states"."status" = 'REQUIRES_CAPTURE';--> statement-breakpoint
CREATE INDEX "payment_transitions_payment_idx" ON "payment_transitions" USING btree ("payment_id","id");--> statement-breakpoint
CREATE INDEX "refunds_payment_idx" ON "refunds" USING btree ("payment_id");--> statement-breakpoint
CREATE INDEX "withdrawals_account_idx" ON "withdrawals" USING btree ("account_id","created_at");--> statement-breakpoint
ALTER TABLE "balances" ADD CONSTRAINT "balances_within_overdraft" CHECK ("balances"."allow_negative" OR "balances"."available_cents" >= -"balances"."overdraft_limit_cents");--> statement-breakpoint
ALTER TABLE "balances" ADD CONSTRAINT "balances_held_non_negative" CHECK ("balances"."held_cents" >= 0);--> statement-breakpoint
ALTER TABLE "balances" ADD CONSTRAINT "balances_overdraft_non_negative" CHECK ("balances"."overdraft_limit_cents" >= 0);--> statement-breakpoint
-- Payments made before the lifecycle moved their money at once: they are AUTHORIZED and refundable.
INSERT INTO "payment_states" ("payment_id", "status", "held_cents", "captured_cents", "hold_expires_at", "updated_at")
  SELECT "id", 'AUTHORIZED', 0, "amount_cents", NULL, "created_at" FROM "payments" WHERE "status" = 'AUTHORIZED';
--> statement-breakpoint
CREATE TRIGGER payment_transitions_append_only BEFORE UPDATE OR DELETE ON payment_transitions
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();
--> statement-breakpoint
CREATE TRIGGER hold_movements_append_only BEFORE UPDATE OR DELETE ON hold_movements
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();
--> statement-breakpoint
CREATE TRIGGER refunds_append_only BEFORE UPDATE OR DELETE ON refunds
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();
--> statement-breakpoint
CREATE TRIGGER withdrawals_append_only BEFORE UPDATE OR DELETE ON withdrawals
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation();
--> statement-breakpoint
-- Replaced by ledger_apply (src/ledger/sql/ledger-apply.sql), the one command function.
DROP FUNCTION IF EXISTS ledger_authorize_payments(jsonb, integer);
