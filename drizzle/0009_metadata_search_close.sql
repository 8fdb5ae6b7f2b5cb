ALTER TABLE "accounts" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "deposits" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "refunds" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "withdrawals" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "accounts_metadata_idx" ON "accounts" USING gin ("metadata" jsonb_path_ops) WHERE "accounts"."metadata" <> '{}'::jsonb;--> statement-breakpoint
CREATE INDEX "payments_metadata_idx" ON "payments" USING gin ("metadata" jsonb_path_ops) WHERE "payments"."metadata" <> '{}'::jsonb;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_metadata_object" CHECK (jsonb_typeof("accounts"."metadata") = 'object');--> statement-breakpoint
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_metadata_object" CHECK (jsonb_typeof("deposits"."metadata") = 'object');--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_metadata_object" CHECK (jsonb_typeof("payments"."metadata") = 'object');--> statement-breakpoint
ALTER TABLE "refunds" ADD CONSTRAINT "refunds_metadata_object" CHECK (jsonb_typeof("refunds"."metadata") = 'object');--> statement-breakpoint
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_metadata_object" CHECK (jsonb_typeof("withdrawals"."metadata") = 'object');--> statement-breakpoint
-- UpdatePayment replaces a payment's metadata: the one change the append-only payments table
-- allows (every other column, and DELETE, is still refused). Fires on UPDATE and DELETE only.
CREATE OR REPLACE FUNCTION ledger_reject_mutation_but_metadata() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'metadata') = (to_jsonb(OLD) - 'metadata') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'table % is append-only: % is not allowed (but for its metadata)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
DROP TRIGGER payments_append_only ON payments;
--> statement-breakpoint
CREATE TRIGGER payments_append_only BEFORE UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_mutation_but_metadata();
