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
import { fromStoredJson } from "./stored-json.js";
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

/**
 * What caused a statement line. PAYMENT: an automatically captured payment, or a hold movement of
 * a manual one (cause id: the payment); CAPTURE: the capture of a held payment (the payment);
 * DEPOSIT, REFUND, WITHDRAWAL: the deposit, refund or withdrawal (a payout) of that id.
 */
export type EntryCauseKind = "PAYMENT" | "CAPTURE" | "DEPOSIT" | "REFUND" | "WITHDRAWAL";

/** One statement line: a ledger entry, or a hold movement (HELD / RELEASED) of a payment. */
export interface StatementLine {
  kind: "ENTRY" | "HELD" | "RELEASED";
  /** (created_us, rank, id): the line's place in the statement, for page and resume tokens. */
  key: PageKey;
  /** 0 for hold movements, which are not ledger entries. */
  entryId: bigint;
  accountId: string;
  /** Position in the entry chain; 0 for hold movements. */
  sequence: bigint;
  /** Signed change: of both balances for an entry; of the available balance for a hold movement (HELD negative, RELEASED positive). */
  amountCents: bigint;
  currency: string;
  /** Ledger balance (entries' running sum) before and after; a hold movement leaves it unchanged. */
  balanceBeforeCents: bigint;
  balanceAfterCents: bigint;
  /** Available balance (ledger minus open holds) before and after this line. */
  availableBeforeCents: bigint;
  availableAfterCents: bigint;
  causeKind: EntryCauseKind;
  causeId: string;
  createdAt: Date;
  /** Empty for hold movements. */
  entryHash: string;
}

/** A statement line (the name the API layer and watches use). */
export type EntryRecord = StatementLine;

const micros = (column: SQL) => sql`(extract(epoch from ${column}) * 1000000)::bigint::text`;
const fromMicros = (value: string) => sql`(timestamptz 'epoch' + ${value}::bigint * interval '1 microsecond')`;
const dateOfMicros = (value: string) => new Date(Number(BigInt(value) / 1000n));

type PaymentRow = { id: string; created_us: string; payment: unknown };

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
  // The status now is the lifecycle's (payment_states); payments.status is the status at authorization.
  if (query.statuses.length > 0) conditions.push(sql`coalesce(s.status, p.status) = any(string_to_array(${query.statuses.join(",")}, ','))`);
  if (query.createdAfter) conditions.push(sql`p.created_at >= ${query.createdAfter.toISOString()}::timestamptz`);
  if (query.createdBefore) conditions.push(sql`p.created_at < ${query.createdBefore.toISOString()}::timestamptz`);
  if (after) conditions.push(sql`(p.created_at, p.id) < (${fromMicros(after[0]!)}, ${after[1]!})`);
  const where = (first?: SQL) => sql.join(first ? [first, ...conditions] : conditions.length ? conditions : [sql`true`], sql` and `);
  const branchOrder = sql`order by p.created_at desc, p.id desc limit ${pageSize + 1}`;
  const order = sql`order by created_at desc, id desc limit ${pageSize + 1}`;
  const from = sql`payments p left join payment_states s on s.payment_id = p.id`;

  const source = query.accountId === ""
    ? sql`(select p.* from ${from} where ${where()} ${branchOrder})`
    : sql`((select p.* from ${from} where ${where(sql`p.payer_account_id = ${query.accountId}`)} ${branchOrder})
           union all
           (select p.* from ${from} where ${where(sql`p.payee_account_id = ${query.accountId}`)} ${branchOrder}))`;
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

/** The record comes from ledger_payment_json, the function that builds every command's payment result. */
const PAYMENT_COLUMNS = sql`id, ${micros(sql`created_at`)} as created_us, ledger_payment_json(id) as payment`;

const paymentKeyOf = (row: PaymentRow): PageKey => [row.created_us, row.id];

const paymentOfRow = (row: PaymentRow): PaymentRecord => fromStoredJson<PaymentRecord>(row.payment);

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

type LineRow = {
  rank: number; key_id: string; entry_id: string | null; account_seq: string | null; amount_cents: string; currency: string;
  ledger_after_cents: string; held_after_cents: string; cause_id: string; cause_kind: EntryCauseKind;
  hold_kind: "HELD" | "RELEASED" | null; created_us: string; entry_hash: string;
};

/**
 * What caused an entry, from the row its transfer_id names: the lifecycle functions
 * (drizzle/functions/20-ledger-commands.sql) pass the deposit id, the refund id or the withdrawal
 * id as the transfer id, and the payment id for a payment; a payment's money moves at
 * authorization (AUTOMATIC) or at capture (MANUAL), so the capture method tells those apart.
 */
const CAUSE_KIND = sql`case when exists (select 1 from deposits d where d.id = e.transfer_id) then 'DEPOSIT'
  when exists (select 1 from refunds r where r.id = e.transfer_id) then 'REFUND'
  when exists (select 1 from withdrawals w where w.id = e.transfer_id) then 'WITHDRAWAL'
  when exists (select 1 from payments p where p.id = e.transfer_id and p.capture_method = 'MANUAL') then 'CAPTURE'
  else 'PAYMENT' end`;

/**
 * The statement of one account: its ledger entries and its hold movements, in time order, so that
 * every change of the AVAILABLE balance has a line (a hold moves money between available and held
 * without an entry). Lines are keyed by (created_at, rank, id): at one instant hold movements
 * (rank 0) come before entries (rank 1), as in a capture, which releases the hold and then moves
 * the captured part; the id is the hold movement's id or the entry's account sequence. Each branch
 * reads at most one page in key order (ledger_entries_account_time_idx,
 * hold_movements_account_time_idx) before the two are merged, so a page costs about the same
 * anywhere in a long history.
 *
 * Balances around a line: the ledger balance is the last entry's running balance at or before the
 * line (set by the entry-chain trigger); the held balance is the sum of the account's hold
 * movements up to the line; available = ledger - held, as in balances.
 */
async function statementLines(
  db: Database,
  accountId: string,
  range: { from?: Date; to?: Date },
  after: PageKey | undefined,
  newestFirst: boolean,
  limit: number,
  inclusive = false,
): Promise<StatementLine[]> {
  const timeFilters = (column: SQL): SQL[] => [
    ...(range.from ? [sql`${column} >= ${range.from.toISOString()}::timestamptz`] : []),
    ...(range.to ? [sql`${column} < ${range.to.toISOString()}::timestamptz`] : []),
  ];
  const keyFilter = (created: SQL, rank: number, id: SQL): SQL[] =>
    after ? [sql`(${created}, ${rank}::int, ${id}) ${newestFirst ? (inclusive ? sql`<=` : sql`<`) : inclusive ? sql`>=` : sql`>`} (${fromMicros(after[0]!)}, ${after[1]!}::int, ${after[2]!}::bigint)`] : [];
  const direction = newestFirst ? sql`desc` : sql`asc`;
  const entryWhere = [sql`e.account_id = ${accountId}`, ...timeFilters(sql`e.created_at`), ...keyFilter(sql`e.created_at`, 1, sql`e.account_seq`)];
  const holdWhere = [sql`h.account_id = ${accountId}`, ...timeFilters(sql`h.created_at`), ...keyFilter(sql`h.created_at`, 0, sql`h.id`)];
  const rows = await queryRows<LineRow>(db, sql`
    with lines as (
      (select 1 as rank, e.account_seq as key_id, e.id as entry_id, e.account_seq, e.amount_cents, e.currency,
              e.balance_after_cents as ledger_after, e.transfer_id as cause_id, ${CAUSE_KIND} as cause_kind,
              null::text as hold_kind, e.created_at, e.entry_hash
         from ledger_entries e where ${sql.join(entryWhere, sql` and `)}
         order by e.created_at ${direction}, e.account_seq ${direction} limit ${limit})
      union all
      (select 0, h.id, null, null, case when h.kind = 'HELD' then -h.amount_cents else h.amount_cents end, a.currency,
              coalesce((select l.balance_after_cents from ledger_entries l
                         where l.account_id = h.account_id and l.created_at < h.created_at
                         order by l.created_at desc, l.account_seq desc limit 1), 0),
              h.payment_id, 'PAYMENT', h.kind, h.created_at, ''
         from hold_movements h join accounts a on a.id = h.account_id where ${sql.join(holdWhere, sql` and `)}
         order by h.created_at ${direction}, h.id ${direction} limit ${limit})
    )
    select l.rank, l.key_id::text as key_id, l.entry_id::text as entry_id, l.account_seq::text as account_seq,
           l.amount_cents::text as amount_cents, l.currency, l.ledger_after::text as ledger_after_cents,
           coalesce((select sum(case when m.kind = 'HELD' then m.amount_cents else -m.amount_cents end)
                       from hold_movements m
                      where m.account_id = ${accountId} and (m.created_at, 0, m.id) <= (l.created_at, l.rank, l.key_id)), 0)::text
             as held_after_cents,
           l.cause_id, l.cause_kind, l.hold_kind, ${micros(sql`l.created_at`)} as created_us, l.entry_hash
      from lines l
     order by l.created_at ${direction}, l.rank ${direction}, l.key_id ${direction} limit ${limit}`);
  return rows.map((row) => lineOfRow(accountId, row));
}

function lineOfRow(accountId: string, row: LineRow): StatementLine {
  const amountCents = BigInt(row.amount_cents);
  const ledgerAfter = BigInt(row.ledger_after_cents);
  const availableAfterCents = ledgerAfter - BigInt(row.held_after_cents);
  const isEntry = row.hold_kind === null;
  return {
    kind: row.hold_kind ?? "ENTRY",
    key: [row.created_us, String(row.rank), row.key_id],
    entryId: isEntry ? BigInt(row.entry_id!) : 0n,
    accountId,
    sequence: isEntry ? BigInt(row.account_seq!) : 0n,
    amountCents,
    currency: row.currency,
    // A hold movement leaves the ledger balance where it was.
    balanceBeforeCents: isEntry ? ledgerAfter - amountCents : ledgerAfter,
    balanceAfterCents: ledgerAfter,
    // Every line changes the available balance by its amount (a hold's amount is signed for it).
    availableBeforeCents: availableAfterCents - amountCents,
    availableAfterCents,
    causeKind: row.cause_kind,
    causeId: row.cause_id,
    createdAt: dateOfMicros(row.created_us),
    entryHash: row.entry_hash,
  };
}

/** The statement of one account, keyset-paged by the line key (see statementLines). */
export async function listAccountEntries(db: Database, query: ListEntriesQuery): Promise<Page<StatementLine>> {
  requireAnyAccountId("account_id", query.accountId);
  if (query.from && query.to && query.from >= query.to) throw invalidArgument("to", "must be later than from");
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const filters = { a: query.accountId, f: query.from?.toISOString(), t: query.to?.toISOString(), n: query.newestFirst, v: 2 };
  const after = decodePageToken("page_token", query.pageToken, filters, 3);
  await getAccount(db, query.accountId);
  const rows = await statementLines(db, query.accountId, query, after, query.newestFirst, pageSize + 1);
  const page = pageOf(rows, pageSize, filters, (row) => row.key);
  return { nextPageToken: page.nextPageToken, items: page.items };
}

/** An account's statement lines after `after` (a line key; from it when `inclusive`), in order, at most `limit`: what a watcher has not seen. */
export async function linesAfter(db: Database, accountId: string, after: PageKey | undefined, limit: number, inclusive = false): Promise<StatementLine[]> {
  return statementLines(db, accountId, {}, after, false, limit, inclusive);
}

/** The key of the account's newest statement line, undefined when it has none. */
export async function newestLine(db: Database, accountId: string): Promise<StatementLine | undefined> {
  const [line] = await statementLines(db, accountId, {}, undefined, true, 1);
  return line;
}

/**
 * The balances of an account at `asOf`. Ledger: the running balance of its last entry committed at
 * or before that instant (ledger_entries_account_time_idx), zero before its first. Held: the sum
 * of its hold movements up to that instant. Available: ledger - held, as balances keeps it now.
 * `version` is the last entry's sequence (hold movements have none); the overdraft limit is the one
 * in force now (limit changes are not recorded with a time).
 */
export async function getBalanceAsOf(db: Database, accountId: string, asOf: Date): Promise<BalanceRecord> {
  requireAnyAccountId("account_id", accountId);
  const at = sql`${asOf.toISOString()}::timestamptz`;
  const [account] = await queryRows<{ currency: string; created_us: string; overdraft_limit_cents: string; held_cents: string; held_us: string | null }>(db, sql`
    select a.currency, ${micros(sql`a.created_at`)} as created_us, b.overdraft_limit_cents::text as overdraft_limit_cents,
           coalesce((select sum(case when m.kind = 'HELD' then m.amount_cents else -m.amount_cents end)
                       from hold_movements m where m.account_id = a.id and m.created_at <= ${at}), 0)::text as held_cents,
           (select ${micros(sql`max(m.created_at)`)} from hold_movements m where m.account_id = a.id and m.created_at <= ${at}) as held_us
    from accounts a join balances b on b.account_id = a.id where a.id = ${accountId}`);
  if (!account) throw accountNotFound("account_id", accountId);
  const [last] = await queryRows<{ account_seq: string; balance_after_cents: string; created_us: string }>(db, sql`
    select account_seq::text as account_seq, balance_after_cents::text as balance_after_cents,
           ${micros(sql`created_at`)} as created_us
    from ledger_entries where account_id = ${accountId} and created_at <= ${at}
    order by created_at desc, account_seq desc limit 1`);
  const ledgerCents = last ? BigInt(last.balance_after_cents) : 0n;
  const heldCents = BigInt(account.held_cents);
  const changedUs = [last?.created_us, account.held_us ?? undefined, account.created_us].filter((v): v is string => v !== undefined);
  return {
    accountId,
    currency: account.currency,
    availableCents: ledgerCents - heldCents,
    heldCents,
    ledgerCents,
    overdraftLimitCents: BigInt(account.overdraft_limit_cents),
    version: last ? BigInt(last.account_seq) : 0n,
    updatedAt: dateOfMicros(changedUs.reduce((x, y) => (BigInt(x) > BigInt(y) ? x : y))),
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
