/** Opening, limiting and reading accounts, including the per-currency funding accounts. */
import { eq } from "drizzle-orm";
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { accounts } from "../db/schema.js";
import { ledgerErrorOf } from "./commands.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import type { BatchItem, PaymentBatcher } from "./payment-batch.js";
import type { AccountRecord, RequestContext } from "./records.js";
import { fromStoredJson } from "./stored-json.js";
import { MAX_AMOUNT_CENTS, requireAnyAccountId, requireCurrency, requireCustomerAccountId, requireText } from "./validation.js";

export interface CreateAccountCommand {
  currency: string;
  displayName: string;
  /** Caller-chosen id; empty means "generate a ULID". */
  accountId: string;
  /** How far below zero the available balance may go (default 0). */
  overdraftLimitCents?: bigint;
}

/** Id of the system account that money of `currency` enters the ledger from. */
export function fundingAccountId(currency: string): string {
  return `funding.${currency}`;
}

/**
 * Opens an account with a zero balance and records AccountCreated, through ledger_apply (`open`,
 * src/ledger/sql/22-ledger-account-commands.sql). Creating an existing caller-chosen id again with
 * the same attributes returns the existing account (a safe retry); other attributes are refused.
 */
export async function createAccount(
  batcher: PaymentBatcher,
  command: CreateAccountCommand,
  context: RequestContext,
): Promise<AccountRecord> {
  requireCurrency("currency", command.currency);
  requireText("display_name", command.displayName, 200, true);
  if (command.accountId !== "") requireCustomerAccountId("account_id", command.accountId);
  requireOverdraftLimit("overdraft_limit_cents", command.overdraftLimitCents ?? 0n);
  context.signal?.throwIfAborted();
  return keylessCommand<AccountRecord>(batcher, "open", {
    accountId: command.accountId || ulid(),
    currency: command.currency,
    displayName: command.displayName,
    overdraftLimitCents: (command.overdraftLimitCents ?? 0n).toString(),
    funding: "false",
  }, context.traceparent);
}

/** Currencies whose funding account this process has seen exist, per database: no call after the first. */
const knownFunding = new WeakMap<PaymentBatcher, Set<string>>();

/** Opens the funding account of `currency` unless it exists (safe under concurrency); returns its id. */
export async function ensureFundingAccount(batcher: PaymentBatcher, currency: string): Promise<string> {
  const id = fundingAccountId(currency);
  const known = knownFunding.get(batcher) ?? new Set<string>();
  knownFunding.set(batcher, known);
  if (known.has(currency)) return id;
  await keylessCommand<AccountRecord>(batcher, "open", { accountId: id, currency, displayName: `Funding ${currency}`, funding: "true" });
  known.add(currency);
  return id;
}

export interface UpdateAccountCommand {
  accountId: string;
  overdraftLimitCents: bigint;
}

/**
 * Sets an account's overdraft limit through ledger_apply (`limit`), under the account's balance row
 * lock like every money command; a limit below what the account already overdraws is refused
 * (OVERDRAFT_LIMIT_TOO_LOW), the rule the balances_within_overdraft constraint enforces too.
 */
export async function updateAccount(batcher: PaymentBatcher, command: UpdateAccountCommand): Promise<{ accountId: string; overdraftLimitCents: bigint }> {
  requireCustomerAccountId("account_id", command.accountId);
  requireOverdraftLimit("overdraft_limit_cents", command.overdraftLimitCents);
  return keylessCommand(batcher, "limit", { accountId: command.accountId, overdraftLimitCents: command.overdraftLimitCents.toString() });
}

/** Runs an item without an idempotency key (the command is idempotent by itself) and returns its record. */
async function keylessCommand<T>(batcher: PaymentBatcher, kind: "open" | "limit", fields: Record<string, string>, traceparent?: string): Promise<T> {
  const item = { ...fields, kind, at: new Date().toISOString(), eventId: ulid(), traceparent: traceparent ?? null } as BatchItem;
  const outcome = await batcher.submit(item);
  if ("error" in outcome) throw ledgerErrorOf(outcome.error);
  return fromStoredJson<T>(outcome.result);
}

function requireOverdraftLimit(field: string, value: bigint): void {
  if (value < 0n) throw invalidArgument(field, "must be 0 or more");
  if (value > MAX_AMOUNT_CENTS) throw invalidArgument(field, `must be at most ${MAX_AMOUNT_CENTS}`);
}

/** Reads one account; NOT_FOUND when it does not exist. */
export async function getAccount(db: Database, accountId: string): Promise<AccountRecord> {
  requireAnyAccountId("account_id", accountId);
  const account = await findAccount(db, accountId);
  if (!account) throw accountNotFound("account_id", accountId);
  return account;
}

/** The NOT_FOUND error for an account named by `field`. */
export function accountNotFound(field: string, accountId: string): LedgerError {
  return new LedgerError(LedgerErrorCode.ACCOUNT_NOT_FOUND, `${field}: account ${accountId} does not exist`, field);
}

async function findAccount(db: Database, accountId: string): Promise<AccountRecord | undefined> {
  const [row] = await db
    .select({
      accountId: accounts.id,
      currency: accounts.currency,
      displayName: accounts.displayName,
      createdAt: accounts.createdAt,
    })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  return row;
}
