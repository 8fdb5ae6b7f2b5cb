/** Payment authorization and the reads that go with it. */
import { eq } from "drizzle-orm";
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { balances, payments } from "../db/schema.js";
import { buildEnvelope } from "../outbox/outbox-writer.js";
import { accountNotFound } from "./accounts.js";
import { replayStoredResult, requestFingerprint } from "./idempotency.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import type { BatchItem, BatchOutcome, PaymentBatcher } from "./payment-batch.js";
import type { BalanceRecord, PaymentRecord, RequestContext } from "./records.js";
import { fromStoredJson } from "./stored-json.js";
import {
  requireAmount,
  requireAnyAccountId,
  requireCurrency,
  requireCustomerAccountId,
  requireIdempotencyKey,
  requireText,
  requireUlid,
} from "./validation.js";

export interface AuthorizePaymentCommand {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
}

/**
 * Authorizes a payment: lock both balances (in id order), check currency and funds under the lock,
 * then debit and credit with two entries, record the payment and its event, all in one database
 * transaction. A declined payment is recorded too (with its reason and a PaymentDeclined event)
 * and moves nothing. The transaction runs in the database (ledger_authorize_payments), grouped
 * with concurrent authorizations by `batcher`; validation, ids and the event's schema check
 * happen here first, so an invalid request or event never reaches the database.
 */
export async function authorizePayment(
  batcher: PaymentBatcher,
  command: AuthorizePaymentCommand,
  context: RequestContext,
): Promise<PaymentRecord> {
  const prepared = prepareAuthorization(command, context);
  context.signal?.throwIfAborted();
  return finishAuthorization(prepared, await batcher.submit(prepared.item));
}

/** The most items one AuthorizePayments request may carry (about 250 KB of JSON at most). */
export const MAX_PAYMENTS_PER_BATCH = 1_000;

/** What one item of authorizePayments came to: the payment, or the error it alone failed with. */
export type AuthorizationOutcome = { payment: PaymentRecord } | { error: LedgerError };

/**
 * Authorizes up to MAX_PAYMENTS_PER_BATCH payments, each exactly as `authorizePayment` would, in
 * the order given. All valid items are handed to the batcher at once, so they reach the database
 * in as few calls as its batch size allows. An item that fails with a LedgerError (invalid, an
 * account missing, its key reused) fails alone; any other failure fails the whole call, which the
 * caller may retry as a whole (the idempotency keys make that safe).
 */
export async function authorizePayments(
  batcher: PaymentBatcher,
  commands: readonly AuthorizePaymentCommand[],
  context: RequestContext,
): Promise<AuthorizationOutcome[]> {
  if (commands.length === 0) throw invalidArgument("items", "must hold at least one payment");
  if (commands.length > MAX_PAYMENTS_PER_BATCH) {
    throw invalidArgument("items", `must hold at most ${MAX_PAYMENTS_PER_BATCH} payments, got ${commands.length}`);
  }
  const prepared = commands.map((command): Prepared | LedgerError => {
    try {
      return prepareAuthorization(command, context);
    } catch (error) {
      if (error instanceof LedgerError) return error;
      throw error;
    }
  });
  context.signal?.throwIfAborted();
  const valid = prepared.filter((p): p is Prepared => !(p instanceof LedgerError));
  const submitted = batcher.submitAll(valid.map((p) => p.item));
  const outcomes = await Promise.all(submitted.map((promise, i) => promise.then((outcome) => ({ prepared: valid[i]!, outcome }))));
  let next = 0;
  return prepared.map((p): AuthorizationOutcome => {
    if (p instanceof LedgerError) return { error: p };
    const { outcome } = outcomes[next++]!;
    try {
      return { payment: finishAuthorization(p, outcome) };
    } catch (error) {
      if (error instanceof LedgerError) return { error };
      throw error;
    }
  });
}

interface Prepared {
  scope: { clientId: string; key: string; method: string };
  fingerprint: string;
  command: AuthorizePaymentCommand;
  item: BatchItem;
}

/** Validates a command and builds its database item: ids, timestamp, fingerprint, event id. */
function prepareAuthorization(command: AuthorizePaymentCommand, context: RequestContext): Prepared {
  validateAuthorization(command);
  const { idempotencyKey, ...request } = command;
  const scope = { clientId: context.clientId, key: idempotencyKey, method: "AuthorizePayment" };
  const fingerprint = requestFingerprint(scope.method, request);
  const paymentId = ulid();
  const createdAt = new Date().toISOString();
  const payload = {
    paymentId,
    payerAccountId: command.payerAccountId,
    payeeAccountId: command.payeeAccountId,
    amountCents: command.amountCents.toString(),
    currency: command.currency,
    description: command.description,
    createdAt,
  };
  // The database writes this envelope, or the PaymentDeclined one that only adds declineReason.
  const { eventId } = buildEnvelope({ type: "PaymentAuthorized", aggregateId: paymentId, occurredAt: new Date(createdAt), payload });
  const item = { ...payload, clientId: scope.clientId, key: scope.key, requestHash: fingerprint, eventId, traceparent: context.traceparent ?? null };
  return { scope, fingerprint, command, item };
}

/** Turns the database's outcome for one item into its payment, or throws its LedgerError. */
function finishAuthorization({ scope, fingerprint, command }: Prepared, outcome: BatchOutcome): PaymentRecord {
  if ("missing" in outcome) {
    const field = outcome.missing;
    throw accountNotFound(field, field === "payer_account_id" ? command.payerAccountId : command.payeeAccountId);
  }
  if (outcome.replayed) return replayStoredResult<PaymentRecord>(scope, fingerprint, outcome);
  return fromStoredJson<PaymentRecord>(outcome.result);
}

function validateAuthorization(command: AuthorizePaymentCommand): void {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("payer_account_id", command.payerAccountId);
  requireCustomerAccountId("payee_account_id", command.payeeAccountId);
  if (command.payerAccountId === command.payeeAccountId) {
    throw invalidArgument("payee_account_id", "must differ from payer_account_id");
  }
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  requireText("description", command.description, 500);
}

/** Reads one payment; NOT_FOUND when it does not exist. */
export async function getPayment(db: Database, paymentId: string): Promise<PaymentRecord> {
  requireUlid("payment_id", paymentId);
  const [row] = await db.select().from(payments).where(eq(payments.id, paymentId));
  if (!row) {
    throw new LedgerError(LedgerErrorCode.PAYMENT_NOT_FOUND, `payment_id: payment ${paymentId} does not exist`, "payment_id");
  }
  const { id, ...rest } = row;
  return { paymentId: id, ...rest };
}

/** Reads the available balance of one account; NOT_FOUND when it does not exist. */
export async function getBalance(db: Database, accountId: string): Promise<BalanceRecord> {
  requireAnyAccountId("account_id", accountId);
  const [row] = await db.select().from(balances).where(eq(balances.accountId, accountId));
  if (!row) throw accountNotFound("account_id", accountId);
  return {
    accountId: row.accountId,
    currency: row.currency,
    availableCents: row.availableCents,
    version: row.version,
    updatedAt: row.updatedAt,
  };
}
