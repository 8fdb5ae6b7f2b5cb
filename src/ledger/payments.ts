/** Payment authorization and the reads that go with it. */
import { eq } from "drizzle-orm";
import { ulid } from "ulid";
import type { Database } from "../db/client.js";
import { balances, payments } from "../db/schema.js";
import { appendEvent } from "../outbox/outbox-writer.js";
import { accountNotFound } from "./accounts.js";
import { requestFingerprint, withIdempotency } from "./idempotency.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import { lockBalances, post, type LockedBalance } from "./postings.js";
import type { BalanceRecord, DeclineReason, PaymentRecord, RequestContext } from "./records.js";
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
 * Authorizes a payment in one transaction: lock both balances (in id order), check currency and
 * funds under the lock, then debit and credit with two entries, record the payment and its event.
 * A declined payment is recorded too (with its reason and a PaymentDeclined event) and moves nothing.
 */
export async function authorizePayment(
  db: Database,
  command: AuthorizePaymentCommand,
  context: RequestContext,
  idempotencyTtlHours: number,
): Promise<PaymentRecord> {
  validateAuthorization(command);
  context.signal?.throwIfAborted();

  const { idempotencyKey, ...request } = command;
  const scope = { clientId: context.clientId, key: idempotencyKey, method: "AuthorizePayment" };
  const fingerprint = requestFingerprint(scope.method, request);

  return withIdempotency(db, scope, fingerprint, idempotencyTtlHours, async (tx) => {
    const locked = await lockBalances(tx, [command.payerAccountId, command.payeeAccountId]);
    const payer = locked.get(command.payerAccountId);
    if (!payer) throw accountNotFound("payer_account_id", command.payerAccountId);
    const payee = locked.get(command.payeeAccountId);
    if (!payee) throw accountNotFound("payee_account_id", command.payeeAccountId);

    const declineReason = decide(command, payer, payee);
    const payment: PaymentRecord = {
      paymentId: ulid(),
      status: declineReason ? "DECLINED" : "AUTHORIZED",
      declineReason,
      ...request,
      createdAt: new Date(),
    };
    await tx.insert(payments).values({ ...payment, id: payment.paymentId });
    if (!declineReason) {
      await post(tx, {
        transferId: payment.paymentId,
        debitAccountId: payment.payerAccountId,
        creditAccountId: payment.payeeAccountId,
        amountCents: payment.amountCents,
        currency: payment.currency,
        at: payment.createdAt,
      });
    }
    const payload = {
      paymentId: payment.paymentId,
      payerAccountId: payment.payerAccountId,
      payeeAccountId: payment.payeeAccountId,
      amountCents: payment.amountCents.toString(),
      currency: payment.currency,
      description: payment.description,
      createdAt: payment.createdAt.toISOString(),
    };
    const event = { aggregateId: payment.paymentId, occurredAt: payment.createdAt, traceparent: context.traceparent };
    if (declineReason) {
      await appendEvent(tx, { ...event, type: "PaymentDeclined", payload: { ...payload, declineReason } });
    } else {
      await appendEvent(tx, { ...event, type: "PaymentAuthorized", payload });
    }
    return payment;
  });
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

/** The business decision, taken while both balance rows are locked. */
function decide(command: AuthorizePaymentCommand, payer: LockedBalance, payee: LockedBalance): DeclineReason | null {
  if (payer.currency !== command.currency || payee.currency !== command.currency) return "CURRENCY_MISMATCH";
  if (payer.availableCents < command.amountCents) return "INSUFFICIENT_FUNDS";
  return null;
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
