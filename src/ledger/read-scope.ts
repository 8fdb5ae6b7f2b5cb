/**
 * What a read may see (issue 21, docs/tenants.md): the caller's tenant, and for an account token
 * only its listed accounts (and their payments). Writes are confined in SQL (ledger_apply,
 * 28-ledger-confinement.sql); every read takes its scope from here, and answers an account or
 * payment outside it exactly as a missing one (existence is not revealed). Lists and watches show
 * only what is inside; page and resume tokens carry the scope in their digest, so a token issued
 * to one scope is not valid in another.
 */
import { sql, type SQL } from "drizzle-orm";
import { DEFAULT_TENANT } from "../db/schema.js";
import type { RequestContext } from "./records.js";

export interface ReadScope {
  tenantId: string;
  /** An account token's accounts; null: every account of the tenant. */
  accountIds: readonly string[] | null;
}

/** The scope of a request; without a caller the default tenant, whole (the service's own reads, tools, tests). */
export function readScopeOf(context?: Pick<RequestContext, "caller">): ReadScope {
  return { tenantId: context?.caller?.tenantId ?? DEFAULT_TENANT, accountIds: context?.caller?.accountIds ?? null };
}

/** The default tenant, whole: what reads without a caller see. */
export const DEFAULT_SCOPE: ReadScope = readScopeOf();

/** Whether an account of tenant `tenantId` (undefined: none found) is inside the scope. */
export function seesAccount(scope: ReadScope, accountId: string, tenantId: string | undefined): boolean {
  return tenantId === scope.tenantId && (scope.accountIds === null || scope.accountIds.includes(accountId));
}

/** Whether a payment whose payer belongs to `payerTenant` and whose parties are `parties` is inside the scope. */
export function seesPayment(scope: ReadScope, payerTenant: string | undefined, parties: readonly string[]): boolean {
  return payerTenant === scope.tenantId && (scope.accountIds === null || parties.some((id) => scope.accountIds!.includes(id)));
}

/** SQL: the account whose id and tenant are these columns is inside the scope. */
export function accountInScope(scope: ReadScope, id: SQL, tenant: SQL): SQL {
  const tenantCondition = sql`${tenant} = ${scope.tenantId}`;
  return scope.accountIds === null ? tenantCondition : sql`(${tenantCondition} and ${id} = any(${listOf(scope.accountIds)}))`;
}

/**
 * SQL: the payment `p` (payments row) is inside the scope: its payer belongs to the tenant (a
 * payment never joins two tenants: ledger_apply refuses it), and for a token one of its parties is listed.
 */
export function paymentInScope(scope: ReadScope, p: SQL): SQL {
  const tenantCondition = sql`exists (select 1 from accounts pa where pa.id = ${p}.payer_account_id and pa.tenant_id = ${scope.tenantId})`;
  if (scope.accountIds === null) return tenantCondition;
  const list = listOf(scope.accountIds);
  return sql`(${tenantCondition} and (${p}.payer_account_id = any(${list}) or ${p}.payee_account_id = any(${list})
    or exists (select 1 from payment_splits ps where ps.payment_id = ${p}.id and ps.payee_account_id = any(${list}))))`;
}

/**
 * What a page or resume token's digest adds for this scope: nothing for the default tenant's whole
 * scope, so tokens issued before tenants existed stay valid.
 */
export function scopeFilters(scope: ReadScope): { tn?: string; ac?: string[] } {
  return {
    ...(scope.tenantId !== DEFAULT_TENANT ? { tn: scope.tenantId } : {}),
    ...(scope.accountIds !== null ? { ac: [...scope.accountIds].sort() } : {}),
  };
}

function listOf(ids: readonly string[]): SQL {
  return ids.length === 0 ? sql`array[]::text[]` : sql`array[${sql.join(ids.map((id) => sql`${id}`), sql`, `)}]::text[]`;
}
