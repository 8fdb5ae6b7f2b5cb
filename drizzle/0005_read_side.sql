ALTER TABLE "ledger_entries" ADD COLUMN "account_seq" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "balance_after_cents" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "entry_hash" text;--> statement-breakpoint
CREATE INDEX "accounts_display_name_idx" ON "accounts" USING btree ("display_name" collate "C","id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_account_seq_idx" ON "ledger_entries" USING btree ("account_id","account_seq");--> statement-breakpoint
CREATE INDEX "ledger_entries_account_time_idx" ON "ledger_entries" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "hold_movements_account_time_idx" ON "hold_movements" USING btree ("account_id","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_created_idx" ON "payments" USING btree ("created_at","id");