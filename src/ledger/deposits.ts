/**
 * Money entering and leaving the ledger: deposits come from, and withdrawals (payouts) go to, the
 * funding account of the currency, so every currency's entries still sum to zero. Applied by
 * ledger_apply (src/ledger/sql/20-ledger-commands.sql) through the group-commit batcher.
 */
import { ulid } from "../ids/ulid.js";
import { ensureFundingAccount } from "./accounts.js";
import { metadataFingerprint, requireBatchSize, runCommand, runCommands, type CommandInput, type CommandOutcome } from "./commands.js";
import type { PaymentBatcher } from "./payment-batch.js";
import type { DepositRecord, RequestContext, WithdrawalRecord } from "./records.js";
import { requireAmount, requireCurrency, requireCustomerAccountId, requireIdempotencyKey, requireMetadata, requireText } from "./validation.js";

export interface DepositFundsCommand {
  idempotencyKey: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
  /** The caller's references for the deposit. */
  metadata?: Record<string, string>;
}

/**
 * Credits an account from the funding account of its currency and records FundsDeposited, once per
 * idempotency key. A deposit that would take a balance beyond int64 is refused (BALANCE_LIMIT_EXCEEDED).
 */
export async function depositFunds(
  batcher: PaymentBatcher,
  command: DepositFundsCommand,
  context: RequestContext,
): Promise<DepositRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  const metadata = command.metadata ?? {};
  requireMetadata("metadata", metadata);
  context.signal?.throwIfAborted();
  const fundingAccountId = await ensureFundingAccount(batcher, command.currency);
  const { idempotencyKey, metadata: _metadata, ...fields } = command;
  const request = { ...fields, ...metadataFingerprint(metadata) };
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
        metadata,
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
  /** The caller's references for the payout. */
  metadata?: Record<string, string>;
}

/**
 * Pays money out of an account to the funding account of its currency and records FundsWithdrawn.
 * An account without the funds (available + overdraft limit) gets a recorded DECLINED withdrawal.
 */
export async function withdrawFunds(
  batcher: PaymentBatcher,
  command: WithdrawFundsCommand,
  context: RequestContext,
): Promise<WithdrawalRecord> {
  requireWithdrawal(command);
  context.signal?.throwIfAborted();
  return runCommand<WithdrawalRecord>(batcher, withdrawInput(command, await ensureFundingAccount(batcher, command.currency)), context);
}

/**
 * Up to MAX_BATCH_ITEMS payouts, each exactly as withdrawFunds, in order, handed to the batcher at
 * once (see authorizePayments in payments.ts): an item that fails with a LedgerError fails alone.
 */
export async function withdrawFundsBatch(
  batcher: PaymentBatcher,
  commands: readonly WithdrawFundsCommand[],
  context: RequestContext,
  atomic = false,
): Promise<CommandOutcome<WithdrawalRecord>[]> {
  requireBatchSize(commands.length, "withdrawals");
  context.signal?.throwIfAborted();
  // The funding account of each valid currency first; an item with an invalid one fails alone below.
  const funding = new Map<string, string>();
  for (const currency of new Set(commands.map((command) => command.currency))) {
    if (isCurrency(currency)) funding.set(currency, await ensureFundingAccount(batcher, currency));
  }
  return runCommands<WithdrawalRecord>(
    batcher,
    commands.map((command) => () => {
      requireWithdrawal(command);
      return withdrawInput(command, funding.get(command.currency)!);
    }),
    context,
    atomic,
  );
}

function requireWithdrawal(command: WithdrawFundsCommand): void {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  requireAmount("amount_cents", command.amountCents);
  requireCurrency("currency", command.currency);
  requireText("reference", command.reference, 200);
  requireMetadata("metadata", command.metadata ?? {});
}

function isCurrency(currency: string): boolean {
  try {
    requireCurrency("currency", currency);
    return true;
  } catch {
    return false;
  }
}

/** The ledger_apply item of a validated withdrawal. */
function withdrawInput(command: WithdrawFundsCommand, fundingAccountId: string): CommandInput<WithdrawalRecord> {
  const { idempotencyKey, metadata, ...request } = command;
  return {
    kind: "withdraw",
    method: "WithdrawFunds",
    idempotencyKey,
    request: { ...request, ...metadataFingerprint(metadata) },
    fields: {
      withdrawalId: ulid(),
      accountId: command.accountId,
      amountCents: command.amountCents.toString(),
      currency: command.currency,
      reference: command.reference,
      fundingAccountId,
      metadata: metadata ?? {},
    },
  };
}
