/**
 * Drizzle schema of the ledger. Money columns are bigint minor units, read as JS bigint.
 *
 * The append-only tables (ledger_entries, payments, deposits) are protected from UPDATE and
 * DELETE by triggers in the migrations, so history cannot be rewritten by accident.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const money = (name: string) => bigint(name, { mode: "bigint" });
const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
/**
 * The caller's references: a JSON object of string values (limits checked by
 * src/ledger/validation.ts: 50 keys, key 1-40 characters, value at most 500).
 */
const metadata = () => jsonb("metadata").$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`);
const metadataIsObject = (name: string, column: Parameters<typeof sql>[1]) => check(name, sql`jsonb_typeof(${column}) = 'object'`);

/**
 * Tenants: every account and every API key belongs to one; a caller sees and moves only its own
 * tenant's accounts (README, "Tenants and keys"). Migration 0011 puts existing data in `default`.
 */
export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  displayName: text("display_name").notNull(),
  createdAt: createdAt(),
});

/** The tenant that existing data and the development key belong to. */
export const DEFAULT_TENANT = "default";
/** Tenant ids: lower case, so that two spellings never name two tenants (declared here, below every user). */
export const TENANT_ID = /^[a-z0-9_-]{1,64}$/;

/**
 * API keys made through AdminService.CreateApiKey (keys from API_KEYS / API_KEYS_FILE are not
 * stored). Only the SHA-256 of a key is kept; revoking sets revoked_at and is seen by every
 * instance within a second.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull().references(() => tenants.id),
    clientId: text("client_id").notNull(),
    scopes: text("scopes").array().notNull(),
    keyHash: text("key_hash").notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("api_keys_key_hash_idx").on(t.keyHash), index("api_keys_tenant_idx").on(t.tenantId, t.id)],
);

/** Customer accounts and the per-currency funding accounts that deposits come from. */
export const accounts = pgTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    currency: text("currency").notNull(),
    displayName: text("display_name").notNull(),
    /** Funding accounts may go negative: they are where money enters the ledger from outside. */
    isFunding: boolean("is_funding").notNull().default(false),
    createdAt: createdAt(),
    metadata: metadata(),
    /** The tenant the account belongs to (funding accounts: the default tenant; they are the ledger's own). */
    tenantId: text("tenant_id").notNull().default(sql`'default'`).references(() => tenants.id),
  },
  (t) => [
    /** ListAccounts by metadata (`metadata @> filter`); accounts without metadata are not in it. */
    index("accounts_metadata_idx").using("gin", sql`${t.metadata} jsonb_path_ops`).where(sql`${t.metadata} <> '{}'::jsonb`),
    metadataIsObject("accounts_metadata_object", t.metadata),
    /**
     * ListAccounts by display_name prefix: a byte-order ("C") range scan, which needs no LIKE and
     * works whatever the database's collation.
     */
    index("accounts_display_name_idx").on(sql`${t.displayName} collate "C"`, t.id),
    /** ListAccounts of one tenant (issue 21): by id, and by display name then id. */
    index("accounts_tenant_idx").on(t.tenantId, t.id),
    index("accounts_tenant_display_name_idx").on(t.tenantId, sql`${t.displayName} collate "C"`, t.id),
  ],
);

/** One row per account; the row lock on it serialises every change of the account's money. */
export const balances = pgTable(
  "balances",
  {
    accountId: text("account_id").primaryKey().references(() => accounts.id),
    currency: text("currency").notNull(),
    availableCents: money("available_cents").notNull().default(sql`0`),
    allowNegative: boolean("allow_negative").notNull().default(false),
    /** Open holds (manual-capture payments not yet captured, voided or expired); not in available. */
    heldCents: money("held_cents").notNull().default(sql`0`),
    /** How far below zero the available balance may go (an operator's decision; default none). */
    overdraftLimitCents: money("overdraft_limit_cents").notNull().default(sql`0`),
    version: money("version").notNull().default(sql`0`),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /**
     * The head of the account's history, kept on the row every writer already locks and updates, so
     * writing the next line reads no earlier line (src/ledger/sql/12-ledger-lines.sql): the last
     * entry's account_seq, the last statement line's line_seq, the last entry's hash (the chain's
     * head) and the last payment step's position (WatchPayments). NULL only between migration 0007
     * and the backfill in 40-entry-chain.sql that runs right after it.
     */
    entrySeq: bigint("entry_seq", { mode: "bigint" }).default(sql`0`),
    lineSeq: bigint("line_seq", { mode: "bigint" }).default(sql`0`),
    chainHash: text("chain_hash"),
    paymentSeq: bigint("payment_seq", { mode: "bigint" }).default(sql`0`),
    /**
     * When CloseAccount closed the account (NULL: open). On the row every money command locks and
     * reads anyway, so the rule "a closed account refuses money" costs no extra read
     * (ledger_closed_refusal, src/ledger/sql/10-ledger-helpers.sql).
     */
    closedAt: timestamp("closed_at", { withTimezone: true, mode: "date" }),
    /**
     * The account's tenant, copied from accounts: ledger_apply checks it on the row it locks, so
     * confinement costs no extra read.
     */
    tenantId: text("tenant_id").notNull().default(sql`'default'`),
  },
  (t) => [
    check("balances_within_overdraft", sql`${t.allowNegative} OR ${t.availableCents} >= -${t.overdraftLimitCents}`),
    check("balances_held_non_negative", sql`${t.heldCents} >= 0`),
    check("balances_overdraft_non_negative", sql`${t.overdraftLimitCents} >= 0`),
  ],
);

/** Every authorization attempt, authorized or declined. */
export const payments = pgTable(
  "payments",
  {
    id: text("id").primaryKey(),
    payerAccountId: text("payer_account_id").notNull(),
    /** NULL for a split payment: its payees are in payment_splits. */
    payeeAccountId: text("payee_account_id"),
    amountCents: money("amount_cents").notNull(),
    currency: text("currency").notNull(),
    /** The status the payment was created with; later transitions are in payment_states / payment_transitions. */
    status: text("status", { enum: ["AUTHORIZED", "DECLINED", "REQUIRES_CAPTURE"] }).notNull(),
    declineReason: text("decline_reason", { enum: ["INSUFFICIENT_FUNDS", "CURRENCY_MISMATCH", "BALANCE_LIMIT_EXCEEDED"] }),
    description: text("description").notNull().default(""),
    createdAt: createdAt(),
    captureMethod: text("capture_method", { enum: ["AUTOMATIC", "MANUAL"] }).notNull().default("AUTOMATIC"),
    /** When an uncaptured hold is released by the service (manual capture only). */
    holdExpiresAt: timestamp("hold_expires_at", { withTimezone: true, mode: "date" }),
    /** The only column UpdatePayment may change (the append-only trigger allows nothing else). */
    metadata: metadata(),
  },
  (t) => [
    /**
     * ListPayments by metadata (`metadata @> filter`). Partial: a payment without metadata costs it
     * nothing (docs/write-path.md); a search names the predicate (history.ts, metadataCondition).
     */
    index("payments_metadata_idx").using("gin", sql`${t.metadata} jsonb_path_ops`).where(sql`${t.metadata} <> '{}'::jsonb`),
    metadataIsObject("payments_metadata_object", t.metadata),
    index("payments_payer_idx").on(t.payerAccountId, t.createdAt),
    index("payments_payee_idx").on(t.payeeAccountId, t.createdAt),
    /** ListPayments without an account: newest first over all payments. */
    index("payments_created_idx").on(t.createdAt, t.id),
    check("payments_amount_positive", sql`${t.amountCents} > 0`),
    check("payments_distinct_accounts", sql`${t.payerAccountId} <> ${t.payeeAccountId}`),
  ],
);

/** Money that entered the ledger from a funding account. */
export const deposits = pgTable(
  "deposits",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    amountCents: money("amount_cents").notNull(),
    currency: text("currency").notNull(),
    createdAt: createdAt(),
    metadata: metadata(),
  },
  (t) => [
    index("deposits_account_idx").on(t.accountId, t.createdAt),
    metadataIsObject("deposits_metadata_object", t.metadata),
    check("deposits_amount_positive", sql`${t.amountCents} > 0`),
  ],
);

/**
 * Immutable double-entry lines: every money movement writes one debit (negative) and one credit
 * (positive) of the same amount, so the entries of each currency always sum to zero.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    /** The payment or deposit that caused this entry. */
    transferId: text("transfer_id").notNull(),
    accountId: text("account_id").notNull(),
    amountCents: money("amount_cents").notNull(),
    currency: text("currency").notNull(),
    createdAt: createdAt(),
    /**
     * Set from the account's balance row when the entry is written (src/ledger/sql/12-ledger-lines.sql): the
     * entry's 1-based position in its account's history, the account's balance right after it,
     * and SHA-256 over its content and the previous entry's hash (a tamper-evident chain per account).
     */
    accountSeq: bigint("account_seq", { mode: "bigint" }),
    balanceAfterCents: money("balance_after_cents"),
    entryHash: text("entry_hash"),
    /**
     * Set from the balance row too (12-ledger-lines.sql): the line's 1-based
     * position among ALL statement lines of its account (entries and hold movements share one
     * sequence, assigned under the account's balance row lock, so it is commit order), and the
     * account's held balance right after it. Statements and watches page by line_seq, never by a
     * clock.
     */
    lineSeq: bigint("line_seq", { mode: "bigint" }),
    heldAfterCents: money("held_after_cents"),
  },
  (t) => [
    /** The statement and WatchAccount: an account's lines in order, paged by line_seq. */
    uniqueIndex("ledger_entries_account_line_idx").on(t.accountId, t.lineSeq),
    /** Statements by time range and balances as of an instant. */
    index("ledger_entries_account_time_idx").on(t.accountId, t.createdAt),
    check("ledger_entries_amount_nonzero", sql`${t.amountCents} <> 0`),
  ],
);

/**
 * Idempotency records, scoped per client. The row is inserted first in the transfer transaction, so
 * a concurrent request with the same key waits on the unique index and then reads the stored
 * response instead of moving money twice.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    clientId: text("client_id").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    /** SHA-256 of the canonical request: the same key with a different request is refused. */
    requestHash: text("request_hash").notNull(),
    /** The stored result of the first request, replayed verbatim to every retry. */
    result: jsonb("result"),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] }), index("idempotency_keys_expires_idx").on(t.expiresAt)],
);

/**
 * Transactional outbox: written in the same transaction as the change it describes and published
 * to Kafka by the relay. `id` order is commit order per aggregate because every writer holds the
 * aggregate's balance row lock while inserting.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    eventId: text("event_id").notNull().unique(),
    eventType: text("event_type").notNull(),
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    /** The whole event envelope, validated against its TypeBox schema before insert. */
    envelope: jsonb("envelope").notNull(),
    /** W3C traceparent of the request that caused the event, if any. */
    traceparent: text("traceparent"),
    createdAt: createdAt(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
    /**
     * When the transaction that wrote the row committed, recorded by the relay as it marks the row
     * published (from the row's xmin, only when PostgreSQL runs with track_commit_timestamp on):
     * published_at - committed_at is the commit-to-delivery latency. NULL otherwise.
     */
    committedAt: timestamp("committed_at", { withTimezone: true, mode: "date" }),
    deadAt: timestamp("dead_at", { withTimezone: true, mode: "date" }),
    lastError: text("last_error"),
  },
  (t) => [
    index("outbox_pending_idx")
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.publishedAt} IS NULL AND ${t.deadAt} IS NULL`),
    index("outbox_pending_aggregate_idx")
      .on(t.aggregateId, t.id)
      .where(sql`${t.publishedAt} IS NULL AND ${t.deadAt} IS NULL`),
    // Retention (src/outbox/outbox-retention.ts) finds the rows published before its cutoff here;
    // without it every round read the whole outbox, however few rows were due.
    index("outbox_published_idx")
      .on(t.publishedAt)
      .where(sql`${t.publishedAt} IS NOT NULL`),
  ],
);

/**
 * The current state of every payment that moved or held money: the one mutable row per payment,
 * changed only by ledger_apply under the payer's and payee's balance locks. Its history is in
 * payment_transitions.
 */
export const paymentStates = pgTable(
  "payment_states",
  {
    paymentId: text("payment_id").primaryKey(),
    status: text("status", { enum: ["AUTHORIZED", "REQUIRES_CAPTURE", "CAPTURED", "VOIDED", "EXPIRED"] }).notNull(),
    /** What the open hold still holds (0 once captured, voided or expired). */
    heldCents: money("held_cents").notNull(),
    /** What reached the payee: the amount (automatic capture) or the captured part of the hold. */
    capturedCents: money("captured_cents").notNull(),
    refundedCents: money("refunded_cents").notNull().default(sql`0`),
    holdExpiresAt: timestamp("hold_expires_at", { withTimezone: true, mode: "date" }),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("payment_states_open_holds_idx").on(t.holdExpiresAt).where(sql`${t.status} = 'REQUIRES_CAPTURE'`),
    check("payment_states_refunds_within_captured", sql`${t.refundedCents} >= 0 AND ${t.refundedCents} <= ${t.capturedCents}`),
  ],
);

/** Append-only: every status a payment entered, with the amount the step moved or released. */
export const paymentTransitions = pgTable(
  "payment_transitions",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    paymentId: text("payment_id").notNull(),
    status: text("status").notNull(),
    amountCents: money("amount_cents").notNull(),
    createdAt: createdAt(),
    /** The payment's accounts (copied from payments): WatchPayments reads an account's transitions by these. */
    payerAccountId: text("payer_account_id").notNull(),
    /** NULL for a split payment's steps (payee_seq too): its payees follow it in their statements. */
    payeeAccountId: text("payee_account_id"),
    /**
     * The step's position among all payment steps of the payer's account, and of the payee's (one
     * sequence per account over both roles, from balances.payment_seq under the account's lock):
     * commit order per account, whatever instance wrote it. WatchPayments resumes from it.
     */
    payerSeq: bigint("payer_seq", { mode: "bigint" }).notNull(),
    payeeSeq: bigint("payee_seq", { mode: "bigint" }),
  },
  (t) => [
    /** WatchPayments: an account's steps as payer and as payee, each in the account's step order. */
    uniqueIndex("payment_transitions_payer_step_idx").on(t.payerAccountId, t.payerSeq),
    uniqueIndex("payment_transitions_payee_step_idx").on(t.payeeAccountId, t.payeeSeq),
  ],
);

/**
 * Append-only: holds placed on and released from an account (an account statement shows them).
 * An account's held_cents equals the sum of its HELD minus its RELEASED rows.
 */
export const holdMovements = pgTable(
  "hold_movements",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    accountId: text("account_id").notNull(),
    paymentId: text("payment_id").notNull(),
    kind: text("kind", { enum: ["HELD", "RELEASED"] }).notNull(),
    amountCents: money("amount_cents").notNull(),
    createdAt: createdAt(),
    /** Set from the balance row (12-ledger-lines.sql): see ledger_entries.line_seq; the ledger and held balances right after it. */
    lineSeq: bigint("line_seq", { mode: "bigint" }),
    ledgerAfterCents: money("ledger_after_cents"),
    heldAfterCents: money("held_after_cents"),
  },
  (t) => [
    uniqueIndex("hold_movements_account_line_idx").on(t.accountId, t.lineSeq),
    // The statement (src/ledger/history.ts) reads an account's hold movements in time order beside
    // its entries, and sums them up to a line for the held balance there (migration 0005).
    index("hold_movements_account_time_idx").on(t.accountId, t.createdAt, t.id),
    check("hold_movements_amount_positive", sql`${t.amountCents} > 0`),
  ],
);

/**
 * Append-only: every overdraft limit an account had and since when, written by a trigger on balances
 * (src/ledger/sql/45-overdraft-history.sql), so GetAccountBalance as_of reports the limit in force then.
 */
export const overdraftLimitChanges = pgTable(
  "overdraft_limit_changes",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    accountId: text("account_id").notNull().references(() => accounts.id),
    overdraftLimitCents: money("overdraft_limit_cents").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("overdraft_limit_changes_account_time_idx").on(t.accountId, t.createdAt, t.id)],
);

/** Append-only: every refund attempt, refunded or declined. */
export const refunds = pgTable(
  "refunds",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id").notNull(),
    amountCents: money("amount_cents").notNull(),
    reason: text("reason").notNull().default(""),
    status: text("status", { enum: ["REFUNDED", "DECLINED"] }).notNull(),
    declineReason: text("decline_reason"),
    createdAt: createdAt(),
    metadata: metadata(),
  },
  (t) => [
    index("refunds_payment_idx").on(t.paymentId),
    check("refunds_amount_positive", sql`${t.amountCents} > 0`),
    metadataIsObject("refunds_metadata_object", t.metadata),
  ],
);

/**
 * The legs of a split payment (migration 0010): each payee's part of the amount, in the order
 * requested, and what reached it (captured) and went back (refunded), changed only by ledger_apply
 * under the payer's and the payees' balance locks. The division rule: ledger_split_shares
 * (src/ledger/sql/15-ledger-authorize-rules.sql).
 */
export const paymentSplits = pgTable(
  "payment_splits",
  {
    paymentId: text("payment_id").notNull(),
    position: integer("position").notNull(),
    payeeAccountId: text("payee_account_id").notNull(),
    amountCents: money("amount_cents").notNull(),
    capturedCents: money("captured_cents").notNull().default(sql`0`),
    refundedCents: money("refunded_cents").notNull().default(sql`0`),
    /** The payment's, so that ListPayments of a payee reads its split payments in order from the index below. */
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.paymentId, t.position] }),
    /** ListPayments of an account: the split payments it is a payee of, newest first (beside payments_payee_idx). */
    index("payment_splits_payee_idx").on(t.payeeAccountId, t.createdAt),
    check("payment_splits_amount_positive", sql`${t.amountCents} > 0`),
    check("payment_splits_captured_within_amount", sql`${t.capturedCents} >= 0 AND ${t.capturedCents} <= ${t.amountCents}`),
    check("payment_splits_refunded_within_captured", sql`${t.refundedCents} >= 0 AND ${t.refundedCents} <= ${t.capturedCents}`),
  ],
);

/**
 * Append-only: a split payment's steps as its payees see them (migration 0010). A split payment's
 * transition has no payee; each of its payees gets the step here, numbered from its balance row's
 * payment_seq under its lock like payee_seq, so WatchPayments streams it to every payee.
 */
export const paymentSplitSteps = pgTable(
  "payment_split_steps",
  {
    transitionId: bigint("transition_id", { mode: "bigint" }).notNull(),
    payeeAccountId: text("payee_account_id").notNull(),
    payeeSeq: bigint("payee_seq", { mode: "bigint" }).notNull(),
  },
  (t) => [
    /** WatchPayments of a split payee, by step position. */
    uniqueIndex("payment_split_steps_payee_step_idx").on(t.payeeAccountId, t.payeeSeq),
  ],
);

/** Append-only: payouts, money leaving the ledger to the funding account of its currency. */
export const withdrawals = pgTable(
  "withdrawals",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    amountCents: money("amount_cents").notNull(),
    currency: text("currency").notNull(),
    reference: text("reference").notNull().default(""),
    status: text("status", { enum: ["WITHDRAWN", "DECLINED"] }).notNull(),
    declineReason: text("decline_reason"),
    createdAt: createdAt(),
    metadata: metadata(),
  },
  (t) => [
    index("withdrawals_account_idx").on(t.accountId, t.createdAt),
    check("withdrawals_amount_positive", sql`${t.amountCents} > 0`),
    metadataIsObject("withdrawals_metadata_object", t.metadata),
  ],
);

/**
 * Who caused each write the ledger applied (issue 21): one row per applied item, written by
 * ledger_audit (src/ledger/sql/32-ledger-audit.sql) in one statement per batch; replays and
 * refusals write none. Read by AdminService.ListAuditEvents, newest first by id.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    tenantId: text("tenant_id").notNull(),
    /** The client (null for the service's own work: the hold sweeper, funding accounts). */
    clientId: text("client_id"),
    /** The stored API key (api_keys.id); null for configured keys. */
    keyId: text("key_id"),
    /** The account token (its jti) when one made the call. */
    tokenId: text("token_id"),
    /** The item's kind: open, deposit, authorize, capture, ... */
    action: text("action").notNull(),
    /** The payment, deposit, withdrawal, refund or account the write made or changed. */
    subjectId: text("subject_id").notNull(),
    accountIds: text("account_ids").array().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    index("audit_events_tenant_idx").on(t.tenantId, t.id),
    index("audit_events_accounts_idx").using("gin", t.accountIds),
  ],
);
