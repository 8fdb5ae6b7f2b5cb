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
import { DEFAULT_SCOPE, accountInScope, paymentInScope, scopeFilters, type ReadScope } from "./read-scope.js";
import { fromStoredJson } from "./stored-json.js";
import { MAX_AMOUNT_CENTS, canonicalMetadata, requireAnyAccountId, requireIdempotencyKey, requireMetadata } from "./validation.js";

/** One page of a list and the token of the next (empty on the last page). */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export interface ListPaymentsQuery {
  /** Payer, payee or a split payment's payee; empty for every payment. */
  accountId: string;
  statuses: PaymentStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
  pageSize: number;
  pageToken: string;
  /** Only payments whose metadata holds every one of these pairs. */
  metadata?: Record<string, string>;
  /** Amount bounds in minor units, inclusive; 0 (or absent) is no bound. */
  minAmountCents?: bigint;
  maxAmountCents?: bigint;
}

export type AccountStatus = AccountRecord["status"];

export interface ListAccountsQuery {
  displayNamePrefix: string;
  pageSize: number;
  pageToken: string;
  /** Only accounts whose metadata holds every one of these pairs. */
  metadata?: Record<string, string>;
  statuses?: AccountStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
}

/**
 * The metadata filter of a list (validated like metadata itself): `column @> pairs`, or none. The
 * metadata indexes leave out rows without metadata (they would cost every payment an index entry,
 * docs/write-path.md), so the condition says what the containment implies, `column <> '{}'`, for
 * PostgreSQL to see that the partial index answers it.
 */
function metadataCondition(column: SQL, metadata: Record<string, string> | undefined): SQL | undefined {
  if (!metadata || Object.keys(metadata).length === 0) return undefined;
  requireMetadata("metadata", metadata);
  return sql`${column} @> ${JSON.stringify(metadata)}::jsonb and ${column} <> '{}'::jsonb`;
}

/** A created-at range [after, before) of a list, checked, as conditions on `column`. */
function createdRange(column: SQL, after: Date | undefined, before: Date | undefined): SQL[] {
  if (after && before && after >= before) throw invalidArgument("created_before", "must be later than created_after");
  return [
    ...(after ? [sql`${column} >= ${after.toISOString()}::timestamptz`] : []),
    ...(before ? [sql`${column} < ${before.toISOString()}::timestamptz`] : []),
  ];
}

/** An amount bound of ListPayments: 0 is none, else 1 to MAX_AMOUNT_CENTS. */
function requireAmountBound(field: string, value: bigint): void {
  if (value < 0n) throw invalidArgument(field, "must not be negative (0: no bound)");
  if (value > MAX_AMOUNT_CENTS) throw invalidArgument(field, `must be at most ${MAX_AMOUNT_CENTS}`);
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
  /** [line sequence]: the line's place in the statement, for page and resume tokens. */
  key: PageKey;
  /** Position among all the account's statement lines (entries and hold movements), from 1. */
  lineSequence: bigint;
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
 * Payments newest first, keyed by (created_at, id). With an account: the payer index, the payee
 * index and the split payees' index (payments_payer_idx, payments_payee_idx,
 * payment_splits_payee_idx) are each read in order up to one page and merged,
 * rather than one OR that PostgreSQL would answer by sorting every payment of the account.
 * Without: payments_created_idx.
 */
export async function listPayments(db: Database, query: ListPaymentsQuery, scope: ReadScope = DEFAULT_SCOPE): Promise<Page<PaymentRecord>> {
  if (query.accountId !== "") requireAnyAccountId("account_id", query.accountId);
  const range = createdRange(sql`p.created_at`, query.createdAfter, query.createdBefore);
  const metadata = metadataCondition(sql`p.metadata`, query.metadata);
  const min = query.minAmountCents ?? 0n;
  const max = query.maxAmountCents ?? 0n;
  requireAmountBound("min_amount_cents", min);
  requireAmountBound("max_amount_cents", max);
  if (min > 0n && max > 0n && min > max) throw invalidArgument("max_amount_cents", "must not be below min_amount_cents");
  const pageSize = pageSizeOf("page_size", query.pageSize);
  // Filters added later appear in the digest only when set: tokens issued before them stay valid.
  const filters = {
    a: query.accountId, s: [...query.statuses].sort(), f: query.createdAfter?.toISOString(), t: query.createdBefore?.toISOString(),
    ...(metadata ? { m: canonicalMetadata(query.metadata!) } : {}),
    ...(min > 0n ? { lo: min.toString() } : {}),
    ...(max > 0n ? { hi: max.toString() } : {}),
    ...scopeFilters(scope),
  };
  const after = decodePageToken("page_token", query.pageToken, filters, 2);
  // Outside the scope (read-scope.ts): an account of another tenant lists nothing, as a missing one.
  if (query.accountId !== "") {
    const [visible] = await queryRows<{ id: string }>(db, sql`select a.id from accounts a
      where a.id = ${query.accountId} and ${accountInScope(scope, sql`a.id`, sql`a.tenant_id`)}`);
    if (!visible) return { items: [], nextPageToken: "" };
  }

  const conditions: SQL[] = [...range];
  // The status now is the lifecycle's (payment_states); payments.status is the status at authorization.
  // A probe of the payment's state per payment the page walks, not a join: joined, the plan was a
  // hash join over every payment and every state (a page cost time in proportion to the ledger);
  // as a subquery, the walk in time order stops once the page is full (test/ledger/history-plans.test.ts).
  if (query.statuses.length > 0) {
    conditions.push(sql`coalesce((select s.status from payment_states s where s.payment_id = p.id), p.status)
      = any(string_to_array(${query.statuses.join(",")}, ','))`);
  }
  // Containment on payments_metadata_idx (GIN, jsonb_path_ops); the planner also walks the time
  // order and checks each row when the pairs are common (docs/write-path.md, bench:read-side).
  if (metadata) conditions.push(metadata);
  if (min > 0n) conditions.push(sql`p.amount_cents >= ${min.toString()}::bigint`);
  if (max > 0n) conditions.push(sql`p.amount_cents <= ${max.toString()}::bigint`);
  if (after) conditions.push(sql`(p.created_at, p.id) < (${fromMicros(after[0]!)}, ${after[1]!})`);
  // Without an account: each payment's payer must be the tenant's (a primary-key lookup per row).
  if (query.accountId === "") conditions.push(paymentInScope(scope, sql`p`));
  const where = (first?: SQL) => sql.join(first ? [first, ...conditions] : conditions.length ? conditions : [sql`true`], sql` and `);
  const branchOrder = sql`order by p.created_at desc, p.id desc limit ${pageSize + 1}`;
  const order = sql`order by created_at desc, id desc limit ${pageSize + 1}`;
  const from = sql`payments p`;

  // The third branch: split payments the account is a payee of, read in the order of
  // payment_splits_payee_idx (the legs carry their payment's time; the key is repeated on them).
  const splitKey = after ? sql` and (l.created_at, l.payment_id) < (${fromMicros(after[0]!)}, ${after[1]!})` : sql``;
  const splitWhere = sql`l.payee_account_id = ${query.accountId}${splitKey}`;
  const splitOrder = sql`order by l.created_at desc, l.payment_id desc limit ${pageSize + 1}`;
  const splitFrom = sql`payment_splits l join payments p on p.id = l.payment_id`;
  const source = query.accountId === ""
    ? sql`(select p.* from ${from} where ${where()} ${branchOrder})`
    : sql`((select p.* from ${from} where ${where(sql`p.payer_account_id = ${query.accountId}`)} ${branchOrder})
           union all
           (select p.* from ${from} where ${where(sql`p.payee_account_id = ${query.accountId}`)} ${branchOrder})
           union all
           (select p.* from ${splitFrom} where ${where(splitWhere)} ${splitOrder}))`;
  const rows = await queryRows<PaymentRow>(db, sql`select ${PAYMENT_COLUMNS} from ${source} p ${order}`);
  const page = pageOf(rows, pageSize, filters, paymentKeyOf);
  return { nextPageToken: page.nextPageToken, items: page.items.map(paymentOfRow) };
}

/** A payment's step: its first status (AUTHORIZED, REQUIRES_CAPTURE or DECLINED) or a later one (CAPTURED, VOIDED, EXPIRED, REFUNDED). */
export interface PaymentTransition {
  /** The step's position among the watched account's payment steps (1, 2, 3, ...): the order watchers see. */
  position: bigint;
  status: "AUTHORIZED" | "REQUIRES_CAPTURE" | "DECLINED" | "CAPTURED" | "VOIDED" | "EXPIRED" | "REFUNDED";
  /** What the step moved or released: the amount (first), the captured part, the released hold, the refund. */
  amountCents: bigint;
  createdAt: Date;
  /** The payment as it is now. */
  payment: PaymentRecord;
}

/**
 * An account's payment steps (as payer, payee or a split payment's payee) after position `after`, oldest first, at most
 * `limit`: what a payment watcher has not seen yet. Positions are the account's own step numbers
 * (payer_seq or payee_seq, whichever side the account is on), assigned from its balance row under
 * its lock (src/ledger/sql/12-ledger-lines.sql), so they are commit order for the account
 * whatever instance wrote them and however batches of other accounts interleave: a step can never
 * become visible below a position a watcher already passed. Read from
 * payment_transitions_payer_step_idx, payment_transitions_payee_step_idx and
 * payment_split_steps_payee_step_idx, each up to `limit`, then merged.
 */
export async function transitionsAfter(db: Database, accountId: string, after: bigint, limit: number): Promise<PaymentTransition[]> {
  const rows = await queryRows<{ position: string; status: PaymentTransition["status"]; amount_cents: string; created_us: string; payment: unknown }>(db, sql`
    select t.position::text as position, t.status, t.amount_cents::text as amount_cents, ${micros(sql`t.created_at`)} as created_us,
           ledger_payment_json(t.payment_id) as payment
      from (
        (select payer_seq as position, status, amount_cents, created_at, payment_id from payment_transitions
          where payer_account_id = ${accountId} and payer_seq > ${after.toString()}::bigint order by payer_seq limit ${limit})
        union all
        (select payee_seq, status, amount_cents, created_at, payment_id from payment_transitions
          where payee_account_id = ${accountId} and payee_seq > ${after.toString()}::bigint order by payee_seq limit ${limit})
        union all
        (select st.payee_seq, t.status, t.amount_cents, t.created_at, t.payment_id
           from payment_split_steps st join payment_transitions t on t.id = st.transition_id
          where st.payee_account_id = ${accountId} and st.payee_seq > ${after.toString()}::bigint order by st.payee_seq limit ${limit})) t
     order by t.position limit ${limit}`);
  return rows.map((row) => ({
    position: BigInt(row.position),
    status: row.status,
    amountCents: BigInt(row.amount_cents),
    createdAt: dateOfMicros(row.created_us),
    payment: fromStoredJson<PaymentRecord>(row.payment),
  }));
}

/** The account's last payment step position (balances.payment_seq), 0 when it has none: where a new watcher starts. */
export async function newestPaymentStep(db: Database, accountId: string): Promise<bigint> {
  const [row] = await queryRows<{ seq: string }>(db, sql`
    select coalesce(payment_seq, 0)::text as seq from balances where account_id = ${accountId}`);
  return BigInt(row?.seq ?? "0");
}

/**
 * The step position that a resume token of the earlier form (v2: a transition id, from when one
 * database-wide lock made ids commit order) stands for: the account's last step at or below it.
 */
export async function paymentStepOfTransitionId(db: Database, accountId: string, id: bigint): Promise<bigint> {
  const [row] = await queryRows<{ seq: string }>(db, sql`
    select greatest(
      coalesce((select max(payer_seq) from payment_transitions where payer_account_id = ${accountId} and id <= ${id.toString()}::bigint), 0),
      coalesce((select max(payee_seq) from payment_transitions where payee_account_id = ${accountId} and id <= ${id.toString()}::bigint), 0),
      coalesce((select max(payee_seq) from payment_split_steps where payee_account_id = ${accountId} and transition_id <= ${id.toString()}::bigint), 0))::text as seq`);
  return BigInt(row?.seq ?? "0");
}

/** The record comes from ledger_payment_json, the function that builds every command's payment result. */
const PAYMENT_COLUMNS = sql`id, ${micros(sql`created_at`)} as created_us, ledger_payment_json(id) as payment`;

const paymentKeyOf = (row: PaymentRow): PageKey => [row.created_us, row.id];

const paymentOfRow = (row: PaymentRow): PaymentRecord => fromStoredJson<PaymentRecord>(row.payment);

/**
 * Customer accounts by id (the primary key), or by display name then id when a prefix is given
 * (accounts_display_name_idx, byte order: a range from the prefix to the prefix followed by the
 * highest code point). Metadata pairs use accounts_metadata_idx (GIN); the status is the balance
 * row's (closed_at), joined by primary key. Records come from ledger_account_json, as commands'.
 */
export async function listAccounts(db: Database, query: ListAccountsQuery, scope: ReadScope = DEFAULT_SCOPE): Promise<Page<AccountRecord>> {
  if (query.displayNamePrefix.length > 200) throw invalidArgument("display_name_prefix", "must be at most 200 characters");
  const range = createdRange(sql`a.created_at`, query.createdAfter, query.createdBefore);
  const metadata = metadataCondition(sql`a.metadata`, query.metadata);
  const statuses = [...new Set(query.statuses ?? [])].sort();
  const pageSize = pageSizeOf("page_size", query.pageSize);
  const prefix = query.displayNamePrefix;
  // Filters added later appear in the digest only when set: tokens issued before them stay valid.
  const filters = {
    p: prefix,
    ...(metadata ? { m: canonicalMetadata(query.metadata!) } : {}),
    ...(statuses.length > 0 ? { s: statuses } : {}),
    ...(query.createdAfter ? { f: query.createdAfter.toISOString() } : {}),
    ...(query.createdBefore ? { t: query.createdBefore.toISOString() } : {}),
    ...scopeFilters(scope),
  };
  const after = decodePageToken("page_token", query.pageToken, filters, 2);
  const name = sql`a.display_name collate "C"`;
  // The tenant's accounts only (accounts_tenant_idx, accounts_tenant_display_name_idx).
  const conditions: SQL[] = [sql`not a.is_funding`, accountInScope(scope, sql`a.id`, sql`a.tenant_id`), ...range];
  if (metadata) conditions.push(metadata);
  if (statuses.length === 1) conditions.push(statuses[0] === "CLOSED" ? sql`b.closed_at is not null` : sql`b.closed_at is null`);
  if (prefix !== "") {
    conditions.push(sql`${name} >= ${prefix}`, sql`${name} < ${prefix + "\u{10FFFF}"}`);
    if (after) conditions.push(sql`(${name}, a.id) > (${after[0]!}, ${after[1]!})`);
  } else if (after) {
    conditions.push(sql`a.id > ${after[1]!}`);
  }
  const rows = await queryRows<{ id: string; display_name: string; account: unknown }>(db, sql`
    select a.id, a.display_name, ledger_account_json(a) as account
      from accounts a join balances b on b.account_id = a.id
     where ${sql.join(conditions, sql` and `)}
     order by ${prefix !== "" ? sql`${name}, a.id` : sql`a.id`} limit ${pageSize + 1}`);
  const page = pageOf(rows, pageSize, filters, (row) => [row.display_name, row.id]);
  return { nextPageToken: page.nextPageToken, items: page.items.map((row) => fromStoredJson<AccountRecord>(row.account)) };
}

type LineRow = {
  line_seq: string; entry_id: string | null; account_seq: string | null; amount_cents: string; currency: string;
  ledger_after_cents: string; held_after_cents: string; cause_id: string; cause_kind: EntryCauseKind;
  hold_kind: "HELD" | "RELEASED" | null; created_us: string; entry_hash: string;
};

/**
 * What caused an entry, from the row its transfer_id names: the lifecycle functions
 * (src/ledger/sql/20-ledger-commands.sql) pass the deposit id, the refund id or the withdrawal
 * id as the transfer id, and the payment id for a payment; a payment's money moves at
 * authorization (AUTOMATIC) or at capture (MANUAL), so the capture method tells those apart.
 * Evaluated on the page's rows only (the final select over at most a page): inside the branch
 * that scans the account's entries, the planner expected a call per entry of the account and
 * hashed each EXISTS over its whole table instead, 110 ms per page at a million payments.
 */
const causeKindOf = (transferId: SQL) => sql`case when exists (select 1 from deposits d where d.id = ${transferId}) then 'DEPOSIT'
  when exists (select 1 from refunds r where r.id = ${transferId}) then 'REFUND'
  when exists (select 1 from withdrawals w where w.id = ${transferId}) then 'WITHDRAWAL'
  when exists (select 1 from payments p where p.id = ${transferId} and p.capture_method = 'MANUAL') then 'CAPTURE'
  else 'PAYMENT' end`;

/**
 * The statement of one account: its ledger entries and its hold movements, so that every change of
 * the AVAILABLE balance has a line (a hold moves money between available and held without an
 * entry), in the order of the account's line sequence (line_seq, one sequence over both tables,
 * assigned in commit order under the account's lock by src/ledger/sql/12-ledger-lines.sql; no
 * clock decides the order). Each line stores the ledger and held balances right after it, so a
 * page reads only its own rows. Each branch reads at most one page in line order
 * (ledger_entries_account_line_idx, hold_movements_account_line_idx) before the two are merged, so
 * a page costs the same anywhere in a long history.
 *
 * A time range keeps the lines whose time is within it, and bounds the line range first with the
 * time indexes (the first line at or after `from`, the last before `to`), so the scan stays short.
 */
async function statementLines(
  db: Database,
  accountId: string,
  range: { from?: Date; to?: Date },
  after: bigint | undefined,
  newestFirst: boolean,
  limit: number,
  inclusive = false,
): Promise<StatementLine[]> {
  const conditions = (alias: SQL): SQL[] => {
    const column = (name: string) => sql`${alias}.${sql.raw(name)}`;
    const list = [sql`${column("account_id")} = ${accountId}`];
    if (range.from) {
      list.push(sql`${column("created_at")} >= ${range.from.toISOString()}::timestamptz`);
      list.push(sql`${column("line_seq")} >= (select coalesce(min(s), 0) from (
        (select line_seq as s from ledger_entries where account_id = ${accountId} and created_at >= ${range.from.toISOString()}::timestamptz order by created_at limit 1)
        union all
        (select line_seq from hold_movements where account_id = ${accountId} and created_at >= ${range.from.toISOString()}::timestamptz order by created_at limit 1)) f)`);
    }
    if (range.to) {
      list.push(sql`${column("created_at")} < ${range.to.toISOString()}::timestamptz`);
      list.push(sql`${column("line_seq")} <= (select coalesce(max(s), 0) from (
        (select line_seq as s from ledger_entries where account_id = ${accountId} and created_at < ${range.to.toISOString()}::timestamptz order by created_at desc limit 1)
        union all
        (select line_seq from hold_movements where account_id = ${accountId} and created_at < ${range.to.toISOString()}::timestamptz order by created_at desc limit 1)) t)`);
    }
    if (after !== undefined) {
      const op = newestFirst ? (inclusive ? sql`<=` : sql`<`) : inclusive ? sql`>=` : sql`>`;
      list.push(sql`${column("line_seq")} ${op} ${after.toString()}::bigint`);
    }
    return list;
  };
  const direction = newestFirst ? sql`desc` : sql`asc`;
  const rows = await queryRows<LineRow>(db, sql`
    with lines as (
      (select e.line_seq, e.id as entry_id, e.account_seq, e.amount_cents, e.currency, e.balance_after_cents as ledger_after,
              e.held_after_cents as held_after, e.transfer_id as cause_id, null::text as cause_kind, null::text as hold_kind,
              e.created_at, e.entry_hash
         from ledger_entries e where ${sql.join(conditions(sql`e`), sql` and `)}
         order by e.line_seq ${direction} limit ${limit})
      union all
      (select h.line_seq, null, null, case when h.kind = 'HELD' then -h.amount_cents else h.amount_cents end, a.currency,
              h.ledger_after_cents, h.held_after_cents, h.payment_id, 'PAYMENT', h.kind, h.created_at, ''
         from hold_movements h join accounts a on a.id = h.account_id where ${sql.join(conditions(sql`h`), sql` and `)}
         order by h.line_seq ${direction} limit ${limit})
    )
    select l.line_seq::text as line_seq, l.entry_id::text as entry_id, l.account_seq::text as account_seq,
           l.amount_cents::text as amount_cents, l.currency, l.ledger_after::text as ledger_after_cents,
           l.held_after::text as held_after_cents, l.cause_id, coalesce(l.cause_kind, ${causeKindOf(sql`l.cause_id`)}) as cause_kind, l.hold_kind,
           ${micros(sql`l.created_at`)} as created_us, l.entry_hash
      from lines l
     order by l.line_seq ${direction} limit ${limit}`);
  return rows.map((row) => lineOfRow(accountId, row));
}

function lineOfRow(accountId: string, row: LineRow): StatementLine {
  const amountCents = BigInt(row.amount_cents);
  const ledgerAfter = BigInt(row.ledger_after_cents);
  const availableAfterCents = ledgerAfter - BigInt(row.held_after_cents);
  const isEntry = row.hold_kind === null;
  return {
    kind: row.hold_kind ?? "ENTRY",
    key: [row.line_seq],
    lineSequence: BigInt(row.line_seq),
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

/** A page or resume key: one line sequence number in decimal. */
function lineOfKey(field: string, key: PageKey | undefined): bigint | undefined {
  if (!key) return undefined;
  if (!/^[0-9]{1,19}$/.test(key[0]!)) throw invalidArgument(field, "is not a page token issued by this service");
  return BigInt(key[0]!);
}

/** The statement of one account, keyset-paged by line sequence (see statementLines). */
export async function listAccountEntries(db: Database, query: ListEntriesQuery, scope: ReadScope = DEFAULT_SCOPE): Promise<Page<StatementLine>> {
  requireAnyAccountId("account_id", query.accountId);
  if (query.from && query.to && query.from >= query.to) throw invalidArgument("to", "must be later than from");
  const pageSize = pageSizeOf("page_size", query.pageSize);
  // v3: keys are line sequences; a token of an earlier version is refused as issued for other filters.
  const filters = { a: query.accountId, f: query.from?.toISOString(), t: query.to?.toISOString(), n: query.newestFirst, v: 3 };
  const after = lineOfKey("page_token", decodePageToken("page_token", query.pageToken, filters, 1));
  await getAccount(db, query.accountId, scope);
  const rows = await statementLines(db, query.accountId, query, after, query.newestFirst, pageSize + 1);
  const page = pageOf(rows, pageSize, filters, (row) => row.key);
  return { nextPageToken: page.nextPageToken, items: page.items };
}

/** An account's statement lines after line `after` (from it when `inclusive`), in order, at most `limit`: what a watcher has not seen. */
export async function linesAfter(db: Database, accountId: string, after: bigint | undefined, limit: number, inclusive = false): Promise<StatementLine[]> {
  return statementLines(db, accountId, {}, after, false, limit, inclusive);
}

/** The account's newest statement line, undefined when it has none. */
export async function newestLine(db: Database, accountId: string): Promise<StatementLine | undefined> {
  const [line] = await statementLines(db, accountId, {}, undefined, true, 1);
  return line;
}

/** The sequence of the account's newest statement line, 0 when it has none. */
export async function headLineSequence(db: Database, accountId: string): Promise<bigint> {
  const [row] = await queryRows<{ head: string }>(db, sql`
    select greatest(
      coalesce((select max(line_seq) from ledger_entries where account_id = ${accountId}), 0),
      coalesce((select max(line_seq) from hold_movements where account_id = ${accountId}), 0))::text as head`);
  return BigInt(row?.head ?? "0");
}

/**
 * The balances of an account at `asOf`: those stored with its last statement line written at or
 * before that instant (ledger_entries_account_time_idx, hold_movements_account_time_idx: the
 * later of the two by line sequence), zero before its first; the overdraft limit in force then
 * (overdraft_limit_changes, recorded by src/ledger/sql/45-overdraft-history.sql; none: 0).
 * `entrySequence` is the last entry's sequence at that instant; there is no `revision`.
 */
export async function getBalanceAsOf(db: Database, accountId: string, asOf: Date, scope: ReadScope = DEFAULT_SCOPE): Promise<BalanceRecord> {
  requireAnyAccountId("account_id", accountId);
  const at = sql`${asOf.toISOString()}::timestamptz`;
  const [row] = await queryRows<{
    currency: string; created_us: string; limit_cents: string | null; entry_seq: string | null; ledger_cents: string | null;
    held_cents: string | null; line_us: string | null;
  }>(db, sql`
    with entry as (
      select line_seq, account_seq, balance_after_cents, held_after_cents, created_at from ledger_entries
       where account_id = ${accountId} and created_at <= ${at} order by created_at desc, account_seq desc limit 1
    ), hold as (
      select line_seq, ledger_after_cents, held_after_cents, created_at from hold_movements
       where account_id = ${accountId} and created_at <= ${at} order by created_at desc, id desc limit 1
    ), line as (
      select line_seq, balance_after_cents as ledger_cents, held_after_cents as held_cents, created_at from entry
      union all
      select line_seq, ledger_after_cents, held_after_cents, created_at from hold
      order by line_seq desc limit 1
    )
    select a.currency, ${micros(sql`a.created_at`)} as created_us,
           (select c.overdraft_limit_cents::text from overdraft_limit_changes c
             where c.account_id = a.id and c.created_at <= ${at} order by c.created_at desc, c.id desc limit 1) as limit_cents,
           (select account_seq::text from entry) as entry_seq,
           (select ledger_cents::text from line) as ledger_cents, (select held_cents::text from line) as held_cents,
           (select ${micros(sql`created_at`)} from line) as line_us
      from accounts a where a.id = ${accountId} and ${accountInScope(scope, sql`a.id`, sql`a.tenant_id`)}`);
  if (!row) throw accountNotFound("account_id", accountId);
  const ledgerCents = BigInt(row.ledger_cents ?? "0");
  const heldCents = BigInt(row.held_cents ?? "0");
  return {
    accountId,
    currency: row.currency,
    availableCents: ledgerCents - heldCents,
    heldCents,
    ledgerCents,
    overdraftLimitCents: BigInt(row.limit_cents ?? "0"),
    entrySequence: BigInt(row.entry_seq ?? "0"),
    revision: null,
    updatedAt: dateOfMicros(row.line_us ?? row.created_us),
  };
}

/**
 * The payment a client authorized with `idempotencyKey`, found through the key's stored result
 * (idempotency keys are per client: another client's key finds nothing). NOT_FOUND when the key
 * was never used for a payment, has expired, or its payment was never committed.
 */
export async function getPaymentByIdempotencyKey(db: Database, clientId: string, idempotencyKey: string, scope: ReadScope = DEFAULT_SCOPE): Promise<PaymentRecord> {
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
  return getPayment(db, row.payment_id, scope);
}
