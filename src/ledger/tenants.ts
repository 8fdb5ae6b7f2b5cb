/**
 * Tenants (issue 21): every account and API key belongs to one; the ledger confines each caller to
 * its tenant (28-ledger-confinement.sql for writes, read-scope.ts for reads). Creating a tenant is
 * idempotent by its id: the same id and display name answer the existing tenant.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { LedgerError, LedgerErrorCode } from "./ledger-error.js";
import { requireTenantId, requireText } from "./validation.js";

export interface TenantRecord {
  tenantId: string;
  displayName: string;
  createdAt: Date;
}

export interface CreateTenantCommand {
  tenantId: string;
  displayName: string;
}

/** Creates a tenant, or answers the existing one with the same display name (else TENANT_ALREADY_EXISTS). */
export async function createTenant(db: Database, command: CreateTenantCommand): Promise<TenantRecord> {
  requireTenantId("tenant_id", command.tenantId);
  requireText("display_name", command.displayName, 200, true);
  type Row = { id: string; display_name: string; created_ms: string };
  let [row] = await queryRows<Row>(db, sql`
    with made as (insert into tenants (id, display_name) values (${command.tenantId}, ${command.displayName})
                  on conflict (id) do nothing returning id, display_name, created_at)
    select id, display_name, (extract(epoch from created_at) * 1000)::bigint::text as created_ms from made
    union all
    select id, display_name, (extract(epoch from created_at) * 1000)::bigint::text from tenants where id = ${command.tenantId} and not exists (select 1 from made)`);
  // A concurrent create of the same id committed after this statement's snapshot: read it now.
  row ??= (await queryRows<Row>(db, sql`select id, display_name, (extract(epoch from created_at) * 1000)::bigint::text as created_ms
    from tenants where id = ${command.tenantId}`))[0];
  if (row!.display_name !== command.displayName) {
    throw new LedgerError(
      LedgerErrorCode.TENANT_ALREADY_EXISTS,
      `tenant_id: tenant ${command.tenantId} already exists with another display name`,
      "tenant_id",
    );
  }
  return { tenantId: row!.id, displayName: row!.display_name, createdAt: new Date(Number(row!.created_ms)) };
}

/**
 * Makes sure the tenants named by configured API keys (API_KEYS, API_KEYS_FILE) exist, so that a
 * deployment bootstraps from its configuration alone. Idempotent; keeps existing display names.
 */
export async function ensureTenants(db: Database, tenantIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(tenantIds)];
  if (ids.length === 0) return;
  await db.execute(sql`insert into tenants (id, display_name)
    select t, t from unnest(string_to_array(${ids.join(",")}, ',')) t on conflict (id) do nothing`);
}
