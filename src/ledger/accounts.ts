/** Opening and reading accounts, including the per-currency funding accounts. */
import { and, eq, gte, sql } from "drizzle-orm";
import { ulid } from "../ids/ulid.js";
import type { Database, Transaction } from "../db/client.js";
import { accounts, balances } from "../db/schema.js";
import { appendEvent } from "../outbox/outbox-writer.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import type { AccountRecord, RequestContext } from "./records.js";
import { retryTransient } from "./transient-retry.js";
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
 * Opens an account with a zero balance and records AccountCreated. Creating an existing caller-
 * chosen id again with the same attributes returns the existing account (a safe retry).
 */
export async function createAccount(
  db: Database,
  command: CreateAccountCommand,
  context: RequestContext,
): Promise<AccountRecord> {
  requireCurrency("currency", command.currency);
  requireText("display_name", command.displayName, 200, true);
  if (command.accountId !== "") requireCustomerAccountId("account_id", command.accountId);
  requireOverdraftLimit("overdraft_limit_cents", command.overdraftLimitCents ?? 0n);
  context.signal?.throwIfAborted();

  const wanted = {
    accountId: command.accountId || ulid(),
    currency: command.currency,
    displayName: command.displayName,
    createdAt: new Date(),
  };
  return retryTransient(() =>
    db.transaction(async (tx) => {
      const inserted = await tx
        .insert(accounts)
        .values({ id: wanted.accountId, currency: wanted.currency, displayName: wanted.displayName, createdAt: wanted.createdAt })
        .onConflictDoNothing()
        .returning({ id: accounts.id });
      if (inserted.length === 0) {
        const existing = await findAccount(tx, wanted.accountId);
        if (existing && existing.currency === wanted.currency && existing.displayName === wanted.displayName) {
          return existing;
        }
        throw new LedgerError(
          LedgerErrorCode.ACCOUNT_ALREADY_EXISTS,
          `account_id: account ${wanted.accountId} already exists with a different currency or display name`,
          "account_id",
        );
      }
      await tx.insert(balances).values({
        accountId: wanted.accountId,
        currency: wanted.currency,
        overdraftLimitCents: command.overdraftLimitCents ?? 0n,
        updatedAt: wanted.createdAt,
      });
      await appendEvent(tx, {
        type: "AccountCreated",
        aggregateId: wanted.accountId,
        occurredAt: wanted.createdAt,
        traceparent: context.traceparent,
        payload: { ...wanted, createdAt: wanted.createdAt.toISOString() },
      });
      return wanted;
    }),
  );
}

/** Creates the funding account of `currency` if it does not exist yet (safe under concurrency). */
export async function ensureFundingAccount(db: Database, currency: string): Promise<string> {
  const id = fundingAccountId(currency);
  await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(accounts)
      .values({ id, currency, displayName: `Funding ${currency}`, isFunding: true })
      .onConflictDoNothing()
      .returning({ id: accounts.id });
    if (inserted.length > 0) await tx.insert(balances).values({ accountId: id, currency, allowNegative: true });
  });
  return id;
}

export interface UpdateAccountCommand {
  accountId: string;
  overdraftLimitCents: bigint;
}

/**
 * Sets an account's overdraft limit. The row lock of the UPDATE serialises it with every money
 * command; a limit below what the account already overdraws is refused (FAILED_PRECONDITION),
 * the same rule the balances_within_overdraft constraint enforces.
 */
export async function updateAccount(db: Database, command: UpdateAccountCommand): Promise<{ accountId: string; overdraftLimitCents: bigint }> {
  requireCustomerAccountId("account_id", command.accountId);
  requireOverdraftLimit("overdraft_limit_cents", command.overdraftLimitCents);
  const limit = command.overdraftLimitCents;
  const [updated] = await retryTransient(() =>
    db
      .update(balances)
      .set({ overdraftLimitCents: limit, version: sql`${balances.version} + 1`, updatedAt: new Date() })
      .where(and(eq(balances.accountId, command.accountId), eq(balances.allowNegative, false), gte(balances.availableCents, -limit)))
      .returning({ accountId: balances.accountId, overdraftLimitCents: balances.overdraftLimitCents }),
  );
  if (updated) return updated;
  const [row] = await db.select().from(balances).where(eq(balances.accountId, command.accountId));
  if (!row || row.allowNegative) throw accountNotFound("account_id", command.accountId);
  throw new LedgerError(
    LedgerErrorCode.OVERDRAFT_LIMIT_TOO_LOW,
    `overdraft_limit_cents: account ${command.accountId} has ${row.availableCents} available; the limit cannot be below ${-row.availableCents}`,
    "overdraft_limit_cents",
  );
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

async function findAccount(db: Database | Transaction, accountId: string): Promise<AccountRecord | undefined> {
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
