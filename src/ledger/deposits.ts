/**
 * Money entering and leaving the ledger: deposits come from, and withdrawals (payouts) go to, the
 * funding account of the currency, so every currency's entries still sum to zero. Applied by
 * ledger_apply (drizzle/functions/20-ledger-commands.sql) through the group-commit batcher.
 */
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { ensureFundingAccount } from "./accounts.js";
import { runCommand } from "./commands.js";
import type { PaymentBatcher } from "./payment-batch.js";
import type { DepositRecord, RequestContext, WithdrawalRecord } from "./records.js";
import { requireAmount, requireCurrency, requireCustomerAccountId, requireIdempotencyKey, requireText } from "./validation.js";

export interface DepositFundsCommand {
  idempotencyKey: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
}

/**
 * Credits an account from the funding account of its currency and records FundsDeposited, once per
 * idempotency key. A deposit that would take a balance beyond int64 is refused (BALANCE_LIMIT_EXCEEDED).
 */
export async function depositFunds(
  db: Database,
  batcher: PaymentBatcher,
  command: DepositFundsCommand,
  context: RequestContext,
): Promise<DepositRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  context.signal?.throwIfAborted();
  const fundingAccountId = await ensureFundingAccount(db, command.currency);
  const { idempotencyKey, ...request } = command;
  return runCommand<DepositRecord>(
    batcher,
    {
      kind: "deposit",
      method: "DepositFunds",
      idempotencyKey,
      request,
      fields: {
        depositId: ulid(),
        accountId: command.accountId,
        amountCents: command.amountCents.toString(),
        currency: command.currency,
        fundingAccountId,
      },
    },
    context,
  );
}

export interface WithdrawFundsCommand {
  idempotencyKey: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
  /** The caller's reference for the payout (e.g. a bank transfer id). */
  reference: string;
}

/**
 * Pays money out of an account to the funding account of its currency and records FundsWithdrawn.
 * An account without the funds (available + overdraft limit) gets a recorded DECLINED withdrawal.
 */
export async function withdrawFunds(
  db: Database,
  batcher: PaymentBatcher,
  command: WithdrawFundsCommand,
  context: RequestContext,
): Promise<WithdrawalRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  requireText("reference", command.reference, 200);
  context.signal?.throwIfAborted();
  const fundingAccountId = await ensureFundingAccount(db, command.currency);
  const { idempotencyKey, ...request } = command;
  return runCommand<WithdrawalRecord>(
    batcher,
    {
      kind: "withdraw",
      method: "WithdrawFunds",
      idempotencyKey,
      request,
      fields: {
        withdrawalId: ulid(),
        accountId: command.accountId,
        amountCents: command.amountCents.toString(),
        currency: command.currency,
        reference: command.reference,
        fundingAccountId,
      },
    },
    context,
  );
}
