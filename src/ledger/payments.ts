/**
 * The payment lifecycle: authorize (automatic capture, or a hold with manual capture), capture,
 * void and refund, plus the reads that go with them. Each command is validated here and applied by
 * ledger_apply (src/ledger/sql/) through the group-commit batcher; the state machine and every
 * money rule live there:
 *
 *   authorize(AUTOMATIC) -> AUTHORIZED --refund*-->  (refunds up to the amount)
 *   authorize(MANUAL)    -> REQUIRES_CAPTURE --capture(<= held)--> CAPTURED --refund*-->
 *                                            --void--> VOIDED
 *                                            --expiry--> EXPIRED
 *   any decline          -> DECLINED (final, nothing moved)
 */
import { eq, sql } from "drizzle-orm";
import { HOLD_EXPIRES_IN_BOUNDS } from "../config/config.js";
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { balances } from "../db/schema.js";
import { accountNotFound } from "./accounts.js";
import { MAX_BATCH_ITEMS, metadataFingerprint, requireBatchSize, runCommand, runCommands, type CommandInput, type CommandOutcome } from "./commands.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import { countPayment } from "./ledger-metrics.js";
import type { PaymentBatcher } from "./payment-batch.js";
import type { BalanceRecord, CaptureMethod, PaymentRecord, RefundRecord, RequestContext } from "./records.js";
import { requireSplits, splitItems, splitsFingerprint, type PaymentSplit } from "./payment-splits.js";
import { DEFAULT_SCOPE, paymentInScope, seesAccount, type ReadScope } from "./read-scope.js";
import { fromStoredJson } from "./stored-json.js";
import {
  requireAmount,
  requireAnyAccountId,
  requireCurrency,
  requireCustomerAccountId,
  canonicalMetadata,
  requireIdempotencyKey,
  requireMetadata,
  requireText,
  requireUlid,
} from "./validation.js";


/** A hold's lifetime when neither the request nor the configuration names one: 7 days, like card networks' usual authorization window. */
export const DEFAULT_HOLD_EXPIRES_IN_SECONDS = 7 * 24 * 3600;

export interface AuthorizePaymentCommand {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
  /** AUTOMATIC (default) moves the money at once; MANUAL places a hold to capture later. */
  captureMethod?: CaptureMethod;
  /** Lifetime of a MANUAL hold; the configured default when absent. */
  holdExpiresInSeconds?: number;
  /** The caller's references (validation.ts: requireMetadata). */
  metadata?: Record<string, string>;
  /** A split payment: the amount divided between these payees (`payeeAccountId` then empty; payment-splits.ts). */
  splits?: readonly PaymentSplit[];
}

/**
 * Authorizes a payment (to one payee, or split between several: ledger_cmd_authorize_split).
 * Decided under the payer's and payees' balance locks: a currency mismatch, a
 * payer without the funds (available + overdraft limit) or a balance that would leave int64 makes a
 * recorded DECLINED payment with its reason and a PaymentDeclined event, and moves nothing.
 */
export async function authorizePayment(
  batcher: PaymentBatcher,
  command: AuthorizePaymentCommand,
  context: RequestContext,
  defaultHoldSeconds = DEFAULT_HOLD_EXPIRES_IN_SECONDS,
): Promise<PaymentRecord> {
  return runCommand<PaymentRecord>(batcher, authorizationInput(command, defaultHoldSeconds), context);
}

/** The most payments one AuthorizePayments request may carry (about 300 KB of JSON at most). */
/** Most payments of one AuthorizePayments, CapturePayments or RefundPayments request. */
export const MAX_PAYMENTS_PER_BATCH = MAX_BATCH_ITEMS;

/** What one item of authorizePayments came to: the payment, or the error it alone failed with. */
export type AuthorizationOutcome = { payment: PaymentRecord } | { error: LedgerError };

/**
 * Authorizes up to MAX_PAYMENTS_PER_BATCH payments, each exactly as `authorizePayment` would, in
 * the order given, handed to the batcher at once so that they reach the database together (one
 * call of ledger_apply for up to its batch size). An item that fails with a LedgerError (invalid,
 * an account missing, its key reused) fails alone; any other failure fails the whole call, which
 * the caller may retry as a whole (the idempotency keys make that safe).
 */
export async function authorizePayments(
  batcher: PaymentBatcher,
  commands: readonly AuthorizePaymentCommand[],
  context: RequestContext,
  defaultHoldSeconds = DEFAULT_HOLD_EXPIRES_IN_SECONDS,
  atomic = false,
): Promise<AuthorizationOutcome[]> {
  requireBatchSize(commands.length, "payments");
  const inputs = commands.map((command) => () => authorizationInput(command, defaultHoldSeconds));
  const outcomes = await runCommands<PaymentRecord>(batcher, inputs, context, atomic);
  return outcomes.map((o) => ("error" in o ? o : { payment: o.value }));
}

/** Validates an authorization and builds its command for ledger_apply. */
function authorizationInput(command: AuthorizePaymentCommand, defaultHoldSeconds: number): CommandInput<PaymentRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("payer_account_id", command.payerAccountId);
  const splits = command.splits ?? [];
  if (splits.length === 0) {
    requireCustomerAccountId("payee_account_id", command.payeeAccountId);
    if (command.payerAccountId === command.payeeAccountId) {
      throw invalidArgument("payee_account_id", "must differ from payer_account_id");
    }
  }
  requireAmount("amount_cents", command.amountCents);
  if (splits.length > 0) requireSplits(command.payerAccountId, command.payeeAccountId, command.amountCents, splits);
  requireCurrency("currency", command.currency);
  requireText("description", command.description, 500);
  const metadata = command.metadata ?? {};
  requireMetadata("metadata", metadata);
  const manual = command.captureMethod === "MANUAL";
  const { minSeconds, maxSeconds } = HOLD_EXPIRES_IN_BOUNDS;
  const holdSeconds = command.holdExpiresInSeconds ?? defaultHoldSeconds;
  if (command.holdExpiresInSeconds !== undefined) {
    if (!manual) throw invalidArgument("hold_expires_in", "applies to CAPTURE_METHOD_MANUAL only");
    if (!Number.isInteger(holdSeconds)) throw invalidArgument("hold_expires_in", "must be whole seconds");
    if (holdSeconds < minSeconds || holdSeconds > maxSeconds) {
      throw invalidArgument("hold_expires_in", `must be whole seconds between ${minSeconds} and ${maxSeconds} (30 days)`);
    }
  }

  const { idempotencyKey, captureMethod: _method, holdExpiresInSeconds: _seconds, splits: _splits, metadata: _metadata, ...fields } = command;
  const request = { ...fields, ...metadataFingerprint(metadata) };
  // The fingerprint of an automatic payment stays what it was before capture methods, splits and metadata existed.
  const withSplits = splits.length > 0 ? { ...request, splits: splitsFingerprint(splits) } : request;
  const fingerprinted = manual
    ? { ...withSplits, captureMethod: "MANUAL", holdExpiresInSeconds: String(command.holdExpiresInSeconds ?? "") }
    : withSplits;
  return {
    kind: "authorize",
    method: "AuthorizePayment",
    idempotencyKey,
    request: fingerprinted,
    fields: {
      paymentId: ulid(),
      payerAccountId: command.payerAccountId,
      payeeAccountId: command.payeeAccountId,
      amountCents: command.amountCents.toString(),
      currency: command.currency,
      description: command.description,
      captureMethod: manual ? "MANUAL" : "AUTOMATIC",
      holdExpiresAt: manual ? new Date(Date.now() + holdSeconds * 1000).toISOString() : null,
      metadata,
      ...(splits.length > 0 && { splits: splitItems(splits) }),
    },
    onRecorded: countPayment,
  };
}

export interface CapturePaymentCommand {
  idempotencyKey: string;
  paymentId: string;
  /** 0 captures the whole hold; at most the held amount. */
  amountCents: bigint;
}

/** Captures (part of) an open hold: the captured amount reaches the payee, the rest is released. */
export function capturePayment(batcher: PaymentBatcher, command: CapturePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
  return runCommand<PaymentRecord>(batcher, captureInput(command), context);
}

/** Up to MAX_PAYMENTS_PER_BATCH captures, each as capturePayment, in order (see authorizePayments). */
export async function capturePayments(
  batcher: PaymentBatcher,
  commands: readonly CapturePaymentCommand[],
  context: RequestContext,
  atomic = false,
): Promise<CommandOutcome<PaymentRecord>[]> {
  requireBatchSize(commands.length, "payments");
  return runCommands<PaymentRecord>(batcher, commands.map((command) => () => captureInput(command)), context, atomic);
}

function captureInput(command: CapturePaymentCommand): CommandInput {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireUlid("payment_id", command.paymentId);
  if (command.amountCents !== 0n) requireAmount("amount_cents", command.amountCents);
  const { idempotencyKey, ...request } = command;
  return { kind: "capture", method: "CapturePayment", idempotencyKey, request, fields: { paymentId: command.paymentId, amountCents: command.amountCents.toString() } };
}

export interface VoidPaymentCommand {
  idempotencyKey: string;
  paymentId: string;
}

/** Releases the whole open hold; nothing reaches the payee. */
export function voidPayment(batcher: PaymentBatcher, command: VoidPaymentCommand, context: RequestContext): Promise<PaymentRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireUlid("payment_id", command.paymentId);
  const { idempotencyKey, ...request } = command;
  return runCommand<PaymentRecord>(
    batcher,
    { kind: "void", method: "VoidPayment", idempotencyKey, request, fields: { paymentId: command.paymentId } },
    context,
  );
}

export interface RefundPaymentCommand {
  idempotencyKey: string;
  paymentId: string;
  amountCents: bigint;
  reason: string;
  /** The caller's references for the refund. */
  metadata?: Record<string, string>;
}

/** Moves (part of) what reached the payee back to the payer; see ledger_cmd_refund for declines. */
export function refundPayment(batcher: PaymentBatcher, command: RefundPaymentCommand, context: RequestContext): Promise<RefundRecord> {
  return runCommand<RefundRecord>(batcher, refundInput(command), context);
}

/** Up to MAX_PAYMENTS_PER_BATCH refunds, each as refundPayment, in order (see authorizePayments). */
export async function refundPayments(
  batcher: PaymentBatcher,
  commands: readonly RefundPaymentCommand[],
  context: RequestContext,
  atomic = false,
): Promise<CommandOutcome<RefundRecord>[]> {
  requireBatchSize(commands.length, "payments");
  return runCommands<RefundRecord>(batcher, commands.map((command) => () => refundInput(command)), context, atomic);
}

function refundInput(command: RefundPaymentCommand): CommandInput {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireUlid("payment_id", command.paymentId);
  requireAmount("amount_cents", command.amountCents);
  requireText("reason", command.reason, 500);
  const metadata = command.metadata ?? {};
  requireMetadata("metadata", metadata);
  const { idempotencyKey, metadata: _metadata, ...request } = command;
  return {
    kind: "refund",
    method: "RefundPayment",
    idempotencyKey,
    request: { ...request, ...metadataFingerprint(metadata) },
    fields: { refundId: ulid(), paymentId: command.paymentId, amountCents: command.amountCents.toString(), reason: command.reason, metadata },
  };
}

export interface UpdatePaymentCommand {
  idempotencyKey: string;
  paymentId: string;
  /** Replaces all of the payment's metadata (empty clears it). */
  metadata: Record<string, string>;
}

/** Replaces a payment's metadata (any status) and records PaymentUpdated, once per idempotency key. */
export function updatePayment(batcher: PaymentBatcher, command: UpdatePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireUlid("payment_id", command.paymentId);
  requireMetadata("metadata", command.metadata);
  return runCommand<PaymentRecord>(
    batcher,
    {
      kind: "update_payment",
      method: "UpdatePayment",
      idempotencyKey: command.idempotencyKey,
      // An empty map is a request too (it clears): always fingerprinted.
      request: { paymentId: command.paymentId, metadata: canonicalMetadata(command.metadata) },
      fields: { paymentId: command.paymentId, metadata: command.metadata },
    },
    context,
  );
}

/** Reads one payment with its current state; NOT_FOUND when it does not exist or is outside `scope` (read-scope.ts). */
export async function getPayment(db: Database, paymentId: string, scope: ReadScope = DEFAULT_SCOPE): Promise<PaymentRecord> {
  requireUlid("payment_id", paymentId);
  // The record is built by the same database function that builds command results.
  const result = await db.execute(sql`select ledger_payment_json(p.id) as payment from payments p
    where p.id = ${paymentId} and ${paymentInScope(scope, sql`p`)}`);
  const rows = (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as { payment: unknown }[];
  const stored = rows[0]?.payment;
  if (!stored) {
    throw new LedgerError(LedgerErrorCode.PAYMENT_NOT_FOUND, `payment_id: payment ${paymentId} does not exist`, "payment_id");
  }
  return fromStoredJson<PaymentRecord>(stored);
}

/** Reads the balances of one account; NOT_FOUND when it does not exist or is outside `scope`. */
export async function getBalance(db: Database, accountId: string, scope: ReadScope = DEFAULT_SCOPE): Promise<BalanceRecord> {
  requireAnyAccountId("account_id", accountId);
  const [row] = await db.select().from(balances).where(eq(balances.accountId, accountId));
  if (!row || !seesAccount(scope, row.accountId, row.tenantId)) throw accountNotFound("account_id", accountId);
  return {
    accountId: row.accountId,
    currency: row.currency,
    availableCents: row.availableCents,
    heldCents: row.heldCents,
    ledgerCents: row.availableCents + row.heldCents,
    overdraftLimitCents: row.overdraftLimitCents,
    entrySequence: row.entrySeq ?? 0n,
    revision: row.version,
    updatedAt: row.updatedAt,
  };
}
