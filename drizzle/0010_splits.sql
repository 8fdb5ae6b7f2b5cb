CREATE TABLE "payment_splits" (
	"payment_id" text NOT NULL,
	"position" integer NOT NULL,
	"payee_account_id" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"captured_cents" bigint DEFAULT 0 NOT NULL,
	"refunded_cents" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "payment_splits_payment_id_position_pk" PRIMARY KEY("payment_id","position"),
	CONSTRAINT "payment_splits_amount_positive" CHECK ("payment_splits"."amount_cents" > 0),
	CONSTRAINT "payment_splits_captured_within_amount" CHECK ("payment_splits"."captured_cents" >= 0 AND "payment_splits"."captured_cents" <= "payment_splits"."amount_cents"),
	CONSTRAINT "payment_splits_refunded_within_captured" CHECK ("payment_splits"."refunded_cents" >= 0 AND "payment_splits"."refunded_cents" <= "payment_splits"."captured_cents")
);
--> statement-breakpoint
CREATE TABLE "payment_split_steps" (
	"transition_id" bigint NOT NULL,
	"payee_account_id" text NOT NULL,
	"payee_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "payment_split_steps_payee_step_idx" ON "payment_split_steps" USING btree ("payee_account_id","payee_seq");--> statement-breakpoint
CREATE INDEX "payment_splits_payee_idx" ON "payment_splits" USING btree ("payee_account_id","created_at");--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "payee_account_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payee_account_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "payment_transitions" ALTER COLUMN "payee_seq" DROP NOT NULL;
