/** Deposits: money entering the ledger from the funding account of its currency. */
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { deposits } from "../db/schema.js";
import { appendEvent } from "../outbox/outbox-writer.js";
import { accountNotFound, ensureFundingAccount } from "./accounts.js";
import { requestFingerprint, withIdempotency } from "./idempotency.js";
import { LedgerError, LedgerErrorCode } from "./ledger-error.js";
import { lockBalances, post } from "./postings.js";
import type { DepositRecord, RequestContext } from "./records.js";
import { requireAmount, requireCurrency, requireCustomerAccountId, requireIdempotencyKey } from "./validation.js";

export interface DepositFundsCommand {
  idempotencyKey: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
}

/**
 * Credits an account from the funding account of its currency (debit funding, credit account) and
 * records FundsDeposited, once per idempotency key.
 */
export async function depositFunds(
  db: Database,
  command: DepositFundsCommand,
  context: RequestContext,
  idempotencyTtlHours: number,
): Promise<DepositRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  context.signal?.throwIfAborted();

  const fundingId = await ensureFundingAccount(db, command.currency);
  const { idempotencyKey, ...request } = command;
  const scope = { clientId: context.clientId, key: idempotencyKey, method: "DepositFunds" };
  const fingerprint = requestFingerprint(scope.method, request);

  return withIdempotency(db, scope, fingerprint, idempotencyTtlHours, async (tx) => {
    const locked = await lockBalances(tx, [command.accountId, fundingId]);
    const account = locked.get(command.accountId);
    if (!account) throw accountNotFound("account_id", command.accountId);
    if (account.currency !== command.currency) {
      throw new LedgerError(
        LedgerErrorCode.CURRENCY_MISMATCH,
        `currency: account ${command.accountId} holds ${account.currency}, not ${command.currency}`,
        "currency",
      );
    }
    const deposit = { depositId: ulid(), ...request, createdAt: new Date() };
    await tx.insert(deposits).values({ id: deposit.depositId, ...request, createdAt: deposit.createdAt });
    const after = await post(tx, {
      transferId: deposit.depositId,
      debitAccountId: fundingId,
      creditAccountId: command.accountId,
      amountCents: command.amountCents,
      currency: command.currency,
      at: deposit.createdAt,
    });
    const record: DepositRecord = { ...deposit, balanceAfterCents: after.get(command.accountId)! };
    await appendEvent(tx, {
      type: "FundsDeposited",
      aggregateId: command.accountId,
      occurredAt: record.createdAt,
      traceparent: context.traceparent,
      payload: {
        depositId: record.depositId,
        accountId: record.accountId,
        fundingAccountId: fundingId,
        amountCents: record.amountCents.toString(),
        currency: record.currency,
        balanceAfterCents: record.balanceAfterCents.toString(),
        createdAt: record.createdAt.toISOString(),
      },
    });
    return record;
  });
}
