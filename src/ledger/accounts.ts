/** Opening, limiting and reading accounts, including the per-currency funding accounts. */
import { sql } from "drizzle-orm";
import { ulid } from "../ids/ulid.js";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { envelopeOf, ledgerErrorOf, runCommand } from "./commands.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import type { BatchItem, PaymentBatcher } from "./payment-batch.js";
import type { AccountRecord, AccountUpdateRecord, RequestContext } from "./records.js";
import { DEFAULT_SCOPE, accountInScope, type ReadScope } from "./read-scope.js";
import { fromStoredJson } from "./stored-json.js";
import {
  MAX_AMOUNT_CENTS,
  canonicalMetadata,
  requireAnyAccountId,
  requireCurrency,
  requireCustomerAccountId,
  requireIdempotencyKey,
  requireMetadata,
  requireText,
} from "./validation.js";

export interface CreateAccountCommand {
  currency: string;
  displayName: string;
  /** Caller-chosen id; empty means "generate a ULID". */
  accountId: string;
  /** How far below zero the available balance may go (default 0). */
  overdraftLimitCents?: bigint;
  /** The caller's references (part of what a repeated create must match). */
  metadata?: Record<string, string>;
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
  const metadata = command.metadata ?? {};
  requireMetadata("metadata", metadata);
  context.signal?.throwIfAborted();
  return keylessCommand<AccountRecord>(batcher, "open", {
    accountId: command.accountId || ulid(),
    currency: command.currency,
    displayName: command.displayName,
    overdraftLimitCents: (command.overdraftLimitCents ?? 0n).toString(),
    funding: "false",
    metadata,
  }, context);
}

/** Currencies whose funding account this process has seen exist, per database: no call after the first. */
const knownFunding = new WeakMap<PaymentBatcher, Set<string>>();

/** Opens the funding account of `currency` unless it exists (safe under concurrency); returns its id. */
export async function ensureFundingAccount(batcher: PaymentBatcher, currency: string): Promise<string> {
  const id = fundingAccountId(currency);
  const known = knownFunding.get(batcher) ?? new Set<string>();
  knownFunding.set(batcher, known);
  if (known.has(currency)) return id;
  await keylessCommand<AccountRecord>(batcher, "open", { accountId: id, currency, displayName: `Funding ${currency}`, funding: "true" }, {});
  known.add(currency);
  return id;
}

export interface UpdateAccountCommand {
  accountId: string;
  /** The new limit; unchanged when undefined (a metadata-only update). */
  overdraftLimitCents?: bigint;
  /** Replaces all of the account's metadata (empty clears it); unchanged when undefined. */
  metadata?: Record<string, string>;
  /** Required with metadata (the update emits AccountUpdated); optional for a limit alone. */
  idempotencyKey?: string;
}

/**
 * Changes an account's overdraft limit and/or replaces its metadata through ledger_apply, under the
 * account's balance row lock like every money command. A limit alone without a key is the `limit`
 * command (idempotent by itself, as before metadata existed); with metadata or a key it is the keyed
 * `update_account` (AccountUpdated; a retry with the key answers the same). A limit below what the
 * account already overdraws is refused (OVERDRAFT_LIMIT_TOO_LOW), and a closed account takes no
 * limit (ACCOUNT_CLOSED); its metadata may still change.
 */
export async function updateAccount(batcher: PaymentBatcher, command: UpdateAccountCommand, context: RequestContext): Promise<AccountUpdateRecord> {
  requireCustomerAccountId("account_id", command.accountId);
  if (command.overdraftLimitCents !== undefined) requireOverdraftLimit("overdraft_limit_cents", command.overdraftLimitCents);
  if (command.metadata !== undefined) requireMetadata("metadata", command.metadata);
  const key = command.idempotencyKey ?? "";
  if (command.metadata === undefined && key === "") {
    return keylessCommand(batcher, "limit", {
      accountId: command.accountId,
      overdraftLimitCents: (command.overdraftLimitCents ?? 0n).toString(),
    }, context);
  }
  if (command.metadata !== undefined && key === "") throw invalidArgument("idempotency_key", "is required when update_mask names metadata");
  requireIdempotencyKey("idempotency_key", key);
  const limit = command.overdraftLimitCents?.toString() ?? null;
  return runCommand<AccountUpdateRecord>(batcher, {
    kind: "update_account",
    method: "UpdateAccount",
    idempotencyKey: key,
    request: {
      accountId: command.accountId,
      overdraftLimitCents: limit ?? "unchanged",
      metadata: command.metadata === undefined ? "unchanged" : canonicalMetadata(command.metadata),
    },
    fields: { accountId: command.accountId, overdraftLimitCents: limit, metadata: command.metadata ?? null },
  }, context);
}

export interface CloseAccountCommand {
  accountId: string;
  idempotencyKey: string;
}

/**
 * Closes an account with nothing available, held or overdrawn (else ACCOUNT_NOT_EMPTY) through
 * ledger_apply (`close`, src/ledger/sql/22-ledger-account-commands.sql); from then on every money
 * command naming it is refused (ACCOUNT_CLOSED, ledger_closed_refusal). AccountClosed.
 */
export function closeAccount(batcher: PaymentBatcher, command: CloseAccountCommand, context: RequestContext): Promise<AccountRecord> {
  requireIdempotencyKey("idempotency_key", command.idempotencyKey);
  requireCustomerAccountId("account_id", command.accountId);
  return runCommand<AccountRecord>(batcher, {
    kind: "close",
    method: "CloseAccount",
    idempotencyKey: command.idempotencyKey,
    request: { accountId: command.accountId },
    fields: { accountId: command.accountId },
  }, context);
}

/** Runs an item without an idempotency key (the command is idempotent by itself) and returns its record. */
async function keylessCommand<T>(
  batcher: PaymentBatcher,
  kind: "open" | "limit",
  fields: Record<string, string | Record<string, string>>,
  context: Partial<RequestContext>,
): Promise<T> {
  const item = { ...fields, ...envelopeOf(context), kind } as BatchItem;
  const outcome = await batcher.submit(item);
  if ("error" in outcome) throw ledgerErrorOf(outcome.error);
  return fromStoredJson<T>(outcome.result);
}

function requireOverdraftLimit(field: string, value: bigint): void {
  if (value < 0n) throw invalidArgument(field, "must be 0 or more");
  if (value > MAX_AMOUNT_CENTS) throw invalidArgument(field, `must be at most ${MAX_AMOUNT_CENTS}`);
}

/** Reads one account; NOT_FOUND when it does not exist or is outside `scope` (read-scope.ts). */
export async function getAccount(db: Database, accountId: string, scope: ReadScope = DEFAULT_SCOPE): Promise<AccountRecord> {
  requireAnyAccountId("account_id", accountId);
  const account = await findAccount(db, accountId, scope);
  if (!account) throw accountNotFound("account_id", accountId);
  return account;
}

/** The NOT_FOUND error for an account named by `field`. */
export function accountNotFound(field: string, accountId: string): LedgerError {
  return new LedgerError(LedgerErrorCode.ACCOUNT_NOT_FOUND, `${field}: account ${accountId} does not exist`, field);
}

/** The record is built by the database function that builds every command's account result. */
async function findAccount(db: Database, accountId: string, scope: ReadScope): Promise<AccountRecord | undefined> {
  const [row] = await queryRows<{ account: unknown }>(db, sql`select ledger_account_json(a) as account from accounts a
    where a.id = ${accountId} and ${accountInScope(scope, sql`a.id`, sql`a.tenant_id`)}`);
  return row ? fromStoredJson<AccountRecord>(row.account) : undefined;
}
