/**
 * The read side: payment lists, account lists, account statements and balances as of an instant.
 * Every list is keyset-paged (see page-token.ts) over an index named beside its query, so a page
 * costs the same on the first page and the ten-thousandth, and new writes never shift a page.
 *
 * Times travel through SQL as epoch microseconds in text: exact on both drivers, and PostgreSQL
 * keeps microseconds where a JavaScript Date keeps milliseconds (a key rounded to milliseconds
 * could skip or repeat rows).
 */
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { accountNotFound, getAccount } from "./accounts.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import { decodePageToken, pageOf, pageSizeOf, type PageKey } from "./page-token.js";
import { getPayment } from "./payments.js";
import type { AccountRecord, BalanceRecord, PaymentRecord, PaymentStatus } from "./records.js";
import { requireAnyAccountId, requireIdempotencyKey } from "./validation.js";

/** One page of a list and the token of the next (empty on the last page). */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export interface ListPaymentsQuery {
  /** Payer or payee; empty for every payment. */
  accountId: string;
  statuses: PaymentStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
  pageSize: number;
  pageToken: string;
}

export interface ListAccountsQuery {
  displayNamePrefix: string;
  pageSize: number;
  pageToken: string;
}

export interface ListEntriesQuery {
  accountId: string;
  from?: Date;
  to?: Date;
  newestFirst: boolean;
  pageSize: number;
  pageToken: string;
}

/** What wrote an entry. The lifecycle's captures, refunds and hold movements extend this list. */
export type EntryCauseKind = "PAYMENT" | "DEPOSIT";

/** One statement line. */
export interface EntryRecord {
  entryId: bigint;
  accountId: string;
  sequence: bigint;
  amountCents: bigint;
  currency: string;
  balanceBeforeCents: bigint;
  balanceAfterCents: bigint;
  causeKind: EntryCauseKind;
  causeId: string;
  createdAt: Date;
  entryHash: string;
}

const micros = (column: SQL) => sql`(extract(epoch from ${column}) * 1000000)::bigint::text`;
const fromMicros = (value: string) => sql`(timestamptz 'epoch' + ${value}::bigint * interval '1 microsecond')`;
const dateOfMicros = (value: string) => new Date(Number(BigInt(value) / 1000n));

type PaymentRow = {
  id: string; status: PaymentStatus; decline_reason: PaymentRecord["declineReason"]; payer_account_id: string;
  payee_account_id: string; amount_cents: string; currency: string; description: string; created_us: string;
};

/**
 * Payments newest first, keyed by (created_at, id). With an account: the payer index and the payee
 * index (payments_payer_idx, payments_payee_idx) are each read in order up to one page and merged,
 * rather than one OR that PostgreSQL would answer by sorting every payment of the account.
 * Without: payments_created_idx.
 */
export async function listPayments(db: Database, query: ListPaymentsQuery): Promise<Page<PaymentRecord>> {
  if (query.accountId !== "") requireAnyAccountId("account_id", query.accountId);
  if (query.createdAfter && query.createdBefore && query.createdAfter >= query.createdBefore) {
    throw invalidArgument("created_before", "must be later than created_after");
  }
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const filters = {
    a: query.accountId, s: [...query.statuses].sort(), f: query.createdAfter?.toISOString(), t: query.createdBefore?.toISOString(),
  };
  const after = decodePageToken("page_token", query.pageToken, filters, 2);

  const conditions: SQL[] = [];
  if (query.statuses.length > 0) conditions.push(sql`status = any(string_to_array(${query.statuses.join(",")}, ','))`);
  if (query.createdAfter) conditions.push(sql`created_at >= ${query.createdAfter.toISOString()}::timestamptz`);
  if (query.createdBefore) conditions.push(sql`created_at < ${query.createdBefore.toISOString()}::timestamptz`);
  if (after) conditions.push(sql`(created_at, id) < (${fromMicros(after[0]!)}, ${after[1]!})`);
  const where = (first?: SQL) => sql.join(first ? [first, ...conditions] : conditions.length ? conditions : [sql`true`], sql` and `);
  const order = sql`order by created_at desc, id desc limit ${pageSize + 1}`;

  const source = query.accountId === ""
    ? sql`(select * from payments where ${where()} ${order})`
    : sql`((select * from payments where ${where(sql`payer_account_id = ${query.accountId}`)} ${order})
           union all
           (select * from payments where ${where(sql`payee_account_id = ${query.accountId}`)} ${order}))`;
  const rows = await queryRows<PaymentRow>(db, sql`select ${PAYMENT_COLUMNS} from ${source} p ${order}`);
  const page = pageOf(rows, pageSize, filters, paymentKeyOf);
  return { nextPageToken: page.nextPageToken, items: page.items.map(paymentOfRow) };
}

/**
 * An account's payments after `after` (a paymentKeyOf key; from the newest when undefined), oldest
 * first, at most `limit`: what a payment watcher has not seen yet.
 */
export async function paymentsAfter(db: Database, accountId: string, after: PageKey | undefined, limit: number): Promise<{ key: PageKey; payment: PaymentRecord }[]> {
  const start = after
    ? sql`(created_at, id) > (${fromMicros(after[0]!)}, ${after[1]!})`
    : sql`false`;
  const order = sql`order by created_at, id limit ${limit}`;
  const rows = await queryRows<PaymentRow>(db, sql`
    select ${PAYMENT_COLUMNS} from (
      (select * from payments where payer_account_id = ${accountId} and ${start} ${order})
      union all
      (select * from payments where payee_account_id = ${accountId} and ${start} ${order})) p ${order}`);
  return rows.map((row) => ({ key: paymentKeyOf(row), payment: paymentOfRow(row) }));
}

/** The key of an account's newest payment, undefined when it has none: where a new watcher starts. */
export async function newestPaymentKey(db: Database, accountId: string): Promise<PageKey | undefined> {
  const order = sql`order by created_at desc, id desc limit 1`;
  const [row] = await queryRows<PaymentRow>(db, sql`
    select ${PAYMENT_COLUMNS} from (
      (select * from payments where payer_account_id = ${accountId} ${order})
      union all
      (select * from payments where payee_account_id = ${accountId} ${order})) p ${order}`);
  return row ? paymentKeyOf(row) : undefined;
}

const PAYMENT_COLUMNS = sql`id, status, decline_reason, payer_account_id, payee_account_id, amount_cents::text as amount_cents,
  currency, description, ${micros(sql`created_at`)} as created_us`;

const paymentKeyOf = (row: PaymentRow): PageKey => [row.created_us, row.id];

const paymentOfRow = (row: PaymentRow): PaymentRecord => ({
  paymentId: row.id,
  status: row.status,
  declineReason: row.decline_reason,
  payerAccountId: row.payer_account_id,
  payeeAccountId: row.payee_account_id,
  amountCents: BigInt(row.amount_cents),
  currency: row.currency,
  description: row.description,
  createdAt: dateOfMicros(row.created_us),
});

/**
 * Customer accounts by id (the primary key), or by display name then id when a prefix is given
 * (accounts_display_name_idx, byte order: a range from the prefix to the prefix followed by the
 * highest code point).
 */
export async function listAccounts(db: Database, query: ListAccountsQuery): Promise<Page<AccountRecord>> {
  if (query.displayNamePrefix.length > 200) throw invalidArgument("display_name_prefix", "must be at most 200 characters");
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const prefix = query.displayNamePrefix;
  const filters = { p: prefix };
  const after = decodePageToken("page_token", query.pageToken, filters, 2);
  const name = sql`display_name collate "C"`;
  const conditions: SQL[] = [sql`not is_funding`];
  if (prefix !== "") {
    conditions.push(sql`${name} >= ${prefix}`, sql`${name} < ${prefix + "\u{10FFFF}"}`);
    if (after) conditions.push(sql`(${name}, id) > (${after[0]!}, ${after[1]!})`);
  } else if (after) {
    conditions.push(sql`id > ${after[1]!}`);
  }
  const rows = await queryRows<{ id: string; currency: string; display_name: string; created_us: string }>(db, sql`
    select id, currency, display_name, ${micros(sql`created_at`)} as created_us from accounts
    where ${sql.join(conditions, sql` and `)}
    order by ${prefix !== "" ? sql`${name}, id` : sql`id`} limit ${pageSize + 1}`);
  const page = pageOf(rows, pageSize, filters, (row) => [row.display_name, row.id]);
  return {
    nextPageToken: page.nextPageToken,
    items: page.items.map((row) => ({
      accountId: row.id, currency: row.currency, displayName: row.display_name, createdAt: dateOfMicros(row.created_us),
    })),
  };
}

type EntryRow = {
  id: string; account_seq: string; amount_cents: string; currency: string; balance_after_cents: string;
  transfer_id: string; cause_kind: EntryCauseKind; created_us: string; entry_hash: string;
};

/**
 * The statement of one account in account order, keyed by its sequence
 * (ledger_entries_account_seq_idx). The balance before an entry is its balance after minus its
 * amount: both are on the row, set by the entry-chain trigger when the entry was written.
 */
export async function listAccountEntries(db: Database, query: ListEntriesQuery): Promise<Page<EntryRecord>> {
  requireAnyAccountId("account_id", query.accountId);
  if (query.from && query.to && query.from >= query.to) throw invalidArgument("to", "must be later than from");
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const filters = { a: query.accountId, f: query.from?.toISOString(), t: query.to?.toISOString(), n: query.newestFirst };
  const after = decodePageToken("page_token", query.pageToken, filters, 1);
  await getAccount(db, query.accountId);

  const conditions: SQL[] = [sql`e.account_id = ${query.accountId}`];
  if (query.from) conditions.push(sql`e.created_at >= ${query.from.toISOString()}::timestamptz`);
  if (query.to) conditions.push(sql`e.created_at < ${query.to.toISOString()}::timestamptz`);
  if (after) conditions.push(query.newestFirst ? sql`e.account_seq < ${after[0]!}::bigint` : sql`e.account_seq > ${after[0]!}::bigint`);
  const rows = await queryRows<EntryRow>(db, sql`
    select ${ENTRY_COLUMNS} from ledger_entries e left join deposits d on d.id = e.transfer_id
    where ${sql.join(conditions, sql` and `)}
    order by e.account_seq ${query.newestFirst ? sql`desc` : sql`asc`} limit ${pageSize + 1}`);
  const page = pageOf(rows, pageSize, filters, (row) => [row.account_seq]);
  return { nextPageToken: page.nextPageToken, items: page.items.map(entryOfRow(query.accountId)) };
}

/** An account's entries after sequence `afterSequence`, in order, at most `limit`: what a watcher has not seen. */
export async function entriesAfter(db: Database, accountId: string, afterSequence: bigint, limit: number): Promise<EntryRecord[]> {
  const rows = await queryRows<EntryRow>(db, sql`
    select ${ENTRY_COLUMNS} from ledger_entries e left join deposits d on d.id = e.transfer_id
    where e.account_id = ${accountId} and e.account_seq > ${afterSequence.toString()}::bigint
    order by e.account_seq limit ${limit}`);
  return rows.map(entryOfRow(accountId));
}

/** The cause of an entry: a deposit when a deposit has its transfer id, otherwise a payment. */
const ENTRY_COLUMNS = sql`e.id::text as id, e.account_seq::text as account_seq, e.amount_cents::text as amount_cents,
  e.currency, e.balance_after_cents::text as balance_after_cents, e.transfer_id, e.entry_hash,
  case when d.id is not null then 'DEPOSIT' else 'PAYMENT' end as cause_kind, ${micros(sql`e.created_at`)} as created_us`;

const entryOfRow = (accountId: string) => (row: EntryRow): EntryRecord => {
  const amountCents = BigInt(row.amount_cents);
  const balanceAfterCents = BigInt(row.balance_after_cents);
  return {
    entryId: BigInt(row.id),
    accountId,
    sequence: BigInt(row.account_seq),
    amountCents,
    currency: row.currency,
    balanceBeforeCents: balanceAfterCents - amountCents,
    balanceAfterCents,
    causeKind: row.cause_kind,
    causeId: row.transfer_id,
    createdAt: dateOfMicros(row.created_us),
    entryHash: row.entry_hash,
  };
};

/**
 * The balance of an account at `asOf`: the running balance of its last entry committed at or before
 * that instant (ledger_entries_account_time_idx), zero before its first. `version` is that entry's
 * sequence, which is the balance's version at the time (each entry of the account bumped it once).
 */
export async function getBalanceAsOf(db: Database, accountId: string, asOf: Date): Promise<BalanceRecord> {
  requireAnyAccountId("account_id", accountId);
  const [account] = await queryRows<{ currency: string; created_us: string }>(db, sql`
    select currency, ${micros(sql`created_at`)} as created_us from accounts where id = ${accountId}`);
  if (!account) throw accountNotFound("account_id", accountId);
  const [last] = await queryRows<{ account_seq: string; balance_after_cents: string; created_us: string }>(db, sql`
    select account_seq::text as account_seq, balance_after_cents::text as balance_after_cents,
           ${micros(sql`created_at`)} as created_us
    from ledger_entries where account_id = ${accountId} and created_at <= ${asOf.toISOString()}::timestamptz
    order by created_at desc, account_seq desc limit 1`);
  return {
    accountId,
    currency: account.currency,
    availableCents: last ? BigInt(last.balance_after_cents) : 0n,
    version: last ? BigInt(last.account_seq) : 0n,
    updatedAt: dateOfMicros(last?.created_us ?? account.created_us),
  };
}

/**
 * The payment a client authorized with `idempotencyKey`, found through the key's stored result
 * (idempotency keys are per client: another client's key finds nothing). NOT_FOUND when the key
 * was never used for a payment, has expired, or its payment was never committed.
 */
export async function getPaymentByIdempotencyKey(db: Database, clientId: string, idempotencyKey: string): Promise<PaymentRecord> {
  requireIdempotencyKey("idempotency_key", idempotencyKey);
  const [row] = await queryRows<{ payment_id: string | null }>(db, sql`
    select result->>'paymentId' as payment_id from idempotency_keys
    where client_id = ${clientId} and key = ${idempotencyKey} and method = 'AuthorizePayment' and expires_at > now()`);
  if (!row?.payment_id) {
    throw new LedgerError(
      LedgerErrorCode.PAYMENT_NOT_FOUND,
      `idempotency_key: no payment was authorized with key ${JSON.stringify(idempotencyKey)} by this client`,
      "idempotency_key",
    );
  }
  return getPayment(db, row.payment_id);
}
