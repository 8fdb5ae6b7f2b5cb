CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"client_id" text,
	"key_id" text,
	"token_id" text,
	"action" text NOT NULL,
	"subject_id" text NOT NULL,
	"account_ids" text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_events_tenant_idx" ON "audit_events" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "audit_events_accounts_idx" ON "audit_events" USING gin ("account_ids");--> statement-breakpoint
CREATE INDEX "accounts_tenant_idx" ON "accounts" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "accounts_tenant_display_name_idx" ON "accounts" USING btree ("tenant_id","display_name" collate "C","id");