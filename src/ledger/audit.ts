/**
 * The audit trail (issue 21): who caused each write the ledger applied, one row per applied item,
 * written by ledger_apply itself in one statement per batch (src/ledger/sql/32-ledger-audit.sql).
 * Read newest first with keyset paging (the row id), by tenant (audit_events_tenant_idx) and/or
 * account (audit_events_accounts_idx, GIN on account_ids).
 */
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { invalidArgument } from "./ledger-error.js";
import type { Page } from "./history.js";
import { decodePageToken, pageOf, pageSizeOf } from "./page-token.js";
import { requireAnyAccountId, requireTenantId } from "./validation.js";
import { DEFAULT_TENANT } from "../db/schema.js";
import { DEFAULT_SCOPE, type ReadScope } from "./read-scope.js";

export interface AuditEventRecord {
  auditId: bigint;
  tenantId: string;
  clientId: string | null;
  keyId: string | null;
  tokenId: string | null;
  /** The item's kind: open, deposit, authorize, capture, void, expire, refund, withdraw, ... */
  action: string;
  subjectId: string;
  accountIds: string[];
  at: Date;
}

export interface ListAuditEventsQuery {
  /** Only this tenant's events; empty: every tenant's. */
  tenantId: string;
  /** Only events touching this account; empty: all. */
  accountId: string;
  pageSize: number;
  pageToken: string;
}

/**
 * One page of audit events, newest first. Operators of the default tenant see every tenant's; a
 * caller of another tenant only its own (asking for another tenant's lists nothing).
 */
export async function listAuditEvents(db: Database, query: ListAuditEventsQuery, scope: ReadScope = DEFAULT_SCOPE): Promise<Page<AuditEventRecord>> {
  if (query.tenantId !== "") requireTenantId("tenant_id", query.tenantId);
  if (query.accountId !== "") requireAnyAccountId("account_id", query.accountId);
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const filters = { audit: 1, tn: query.tenantId, a: query.accountId };
  const after = decodePageToken("page_token", query.pageToken, filters, 1);
  if (after && !/^[0-9]{1,19}$/.test(after[0]!)) throw invalidArgument("page_token", "is not a page token issued by this service");
  const conditions: SQL[] = [sql`true`];
  if (scope.tenantId !== DEFAULT_TENANT) {
    if (query.tenantId !== "" && query.tenantId !== scope.tenantId) return { items: [], nextPageToken: "" };
    conditions.push(sql`tenant_id = ${scope.tenantId}`);
  }
  if (query.tenantId !== "") conditions.push(sql`tenant_id = ${query.tenantId}`);
  if (query.accountId !== "") conditions.push(sql`account_ids @> array[${query.accountId}]::text[]`);
  if (after) conditions.push(sql`id < ${after[0]!}::bigint`);
  // Ordered by the column, not by the output `id` (its text): a bare name in ORDER BY means the
  // output column, which put "9" above "12" and read the whole table to sort it.
  const rows = await queryRows<{
    id: string; tenant_id: string; client_id: string | null; key_id: string | null; token_id: string | null;
    action: string; subject_id: string; account_ids: string[]; created_ms: string;
  }>(db, sql`select id::text, tenant_id, client_id, key_id, token_id, action, subject_id, account_ids, (extract(epoch from created_at) * 1000)::bigint::text as created_ms
    from audit_events where ${sql.join(conditions, sql` and `)} order by audit_events.id desc limit ${pageSize + 1}`);
  const page = pageOf(rows, pageSize, filters, (row) => [row.id]);
  return {
    nextPageToken: page.nextPageToken,
    items: page.items.map((row) => ({
      auditId: BigInt(row.id), tenantId: row.tenant_id, clientId: row.client_id, keyId: row.key_id, tokenId: row.token_id,
      action: row.action, subjectId: row.subject_id, accountIds: row.account_ids, at: new Date(Number(row.created_ms)),
    })),
  };
}
