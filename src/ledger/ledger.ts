/**
 * The ledger's public face: every operation the API offers, bound to one database. Handlers call
 * this and never build SQL; this knows nothing of Connect or HTTP.
 */
import type { Database } from "../db/client.js";
import type { ReadSource } from "../db/read-replica.js";
import {
  closeAccount,
  createAccount,
  getAccount,
  updateAccount,
  type CloseAccountCommand,
  type CreateAccountCommand,
  type UpdateAccountCommand,
} from "./accounts.js";
import { depositFunds, withdrawFunds, withdrawFundsBatch, type DepositFundsCommand, type WithdrawFundsCommand } from "./deposits.js";
import { expireDueHolds } from "./hold-expiry.js";
import type { CommandOutcome } from "./commands.js";
import { PaymentBatcher } from "./payment-batch.js";
import {
  getBalanceAsOf,
  getPaymentByIdempotencyKey,
  listAccountEntries,
  listAccounts,
  listPayments,
  type EntryRecord,
  type ListAccountsQuery,
  type ListEntriesQuery,
  type ListPaymentsQuery,
  type Page,
} from "./history.js";
import {
  authorizePayment,
  authorizePayments,
  capturePayment,
  capturePayments,
  getBalance,
  getPayment,
  refundPayment,
  refundPayments,
  updatePayment,
  voidPayment,
  type AuthorizationOutcome,
  type AuthorizePaymentCommand,
  type CapturePaymentCommand,
  type RefundPaymentCommand,
  type UpdatePaymentCommand,
  type VoidPaymentCommand,
} from "./payments.js";
import type {
  AccountRecord,
  AccountUpdateRecord,
  BalanceRecord,
  DepositRecord,
  PaymentRecord,
  RefundRecord,
  RequestContext,
  WithdrawalRecord,
} from "./records.js";
import { readScopeOf } from "./read-scope.js";
import { listAuditEvents, type AuditEventRecord, type ListAuditEventsQuery } from "./audit.js";
import { createTenant, type CreateTenantCommand, type TenantRecord } from "./tenants.js";
import { verifyLedger, type VerificationReport } from "./verify.js";
import { watchAccount, watchPayments, type AccountChange, type PaymentChange } from "./watch.js";
import { ChangeFeed } from "./change-feed.js";

export interface LedgerOptions {
  /** How long idempotency keys are kept before they may be reused and are swept. */
  idempotencyTtlHours: number;
  /** Group commit of every money-moving command (see payment-batch.ts). */
  paymentBatch?: { maxBatchSize: number; maxInFlight: number };
  /**
   * Wakes watch streams when the database reports a change (started by the caller). Without one,
   * watchers learn of changes by polling only.
   */
  changeFeed?: ChangeFeed;
  /** Lifetime of a manual-capture hold when the request names none (default 7 days). */
  holdExpiresInSeconds?: number;
  /**
   * Where the read side runs (lists, statements, as-of balances, verification): a replica within
   * its staleness bound (READ_DATABASE_URL, src/db/read-replica.ts), else `db`. Commands, current
   * balances, payments by id or key, and watches always use `db`, the primary.
   */
  reads?: ReadSource;
}

/** For read-your-writes: performance.now() of the caller's last write through this process. */
export interface ReadConsistency {
  writtenAt?: number;
}

/**
 * One batch in flight per instance: everything that arrives meanwhile forms the next one, so
 * batches grow with load and PostgreSQL's cost per payment falls (docs/profile.md). Batches of
 * several instances run in parallel and wait for each other only on the balance rows they share
 * (docs/write-path.md). Up to 1,000 items per call, so that one AuthorizePayments request is one
 * database call. Single requests are unaffected: batches only grow while one runs.
 */
const DEFAULT_PAYMENT_BATCH = { maxBatchSize: 1_000, maxInFlight: 1 };

/** The payment ledger over one database. */
export class Ledger {
  private readonly commands: PaymentBatcher;
  private readonly changes: ChangeFeed;

  constructor(
    readonly db: Database,
    private readonly options: LedgerOptions,
  ) {
    this.commands = new PaymentBatcher(db, {
      idempotencyTtlHours: options.idempotencyTtlHours,
      ...(options.paymentBatch ?? DEFAULT_PAYMENT_BATCH),
    });
    this.changes = options.changeFeed ?? new ChangeFeed(async () => async () => {});
  }

  createAccount(command: CreateAccountCommand, context: RequestContext): Promise<AccountRecord> {
    return createAccount(this.commands, command, context);
  }

  /** Reads as `context`'s caller (read-scope.ts); without one, the default tenant. */
  getAccount(accountId: string, context?: RequestContext): Promise<AccountRecord> {
    return getAccount(this.db, accountId, readScopeOf(context));
  }

  updateAccount(command: UpdateAccountCommand, context: RequestContext = { clientId: "" }): Promise<AccountUpdateRecord> {
    return updateAccount(this.commands, command, context);
  }

  /** Closes an empty account; it then refuses every money command (ACCOUNT_CLOSED). */
  closeAccount(command: CloseAccountCommand, context: RequestContext): Promise<AccountRecord> {
    return closeAccount(this.commands, command, context);
  }

  /** Replaces a payment's metadata. */
  updatePayment(command: UpdatePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
    return updatePayment(this.commands, command, context);
  }

  depositFunds(command: DepositFundsCommand, context: RequestContext): Promise<DepositRecord> {
    return depositFunds(this.commands, command, context);
  }

  withdrawFunds(command: WithdrawFundsCommand, context: RequestContext): Promise<WithdrawalRecord> {
    return withdrawFunds(this.commands, command, context);
  }

  /** Up to 1,000 payouts, one outcome each, in order; `atomic`: all or nothing (commands.ts). */
  withdrawFundsBatch(commands: readonly WithdrawFundsCommand[], context: RequestContext, atomic = false): Promise<CommandOutcome<WithdrawalRecord>[]> {
    return withdrawFundsBatch(this.commands, commands, context, atomic);
  }

  authorizePayment(command: AuthorizePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
    return authorizePayment(this.commands, command, context, this.options.holdExpiresInSeconds);
  }

  /** Up to 1,000 authorizations in one call; one outcome per command, in order (payments.ts). */
  authorizePayments(commands: readonly AuthorizePaymentCommand[], context: RequestContext, atomic = false): Promise<AuthorizationOutcome[]> {
    return authorizePayments(this.commands, commands, context, this.options.holdExpiresInSeconds, atomic);
  }

  capturePayment(command: CapturePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
    return capturePayment(this.commands, command, context);
  }

  /** Up to 1,000 captures in one call; one outcome per command, in order. */
  capturePayments(commands: readonly CapturePaymentCommand[], context: RequestContext, atomic = false): Promise<CommandOutcome<PaymentRecord>[]> {
    return capturePayments(this.commands, commands, context, atomic);
  }

  /** Up to 1,000 refunds in one call; one outcome per command, in order. */
  refundPayments(commands: readonly RefundPaymentCommand[], context: RequestContext, atomic = false): Promise<CommandOutcome<RefundRecord>[]> {
    return refundPayments(this.commands, commands, context, atomic);
  }

  voidPayment(command: VoidPaymentCommand, context: RequestContext): Promise<PaymentRecord> {
    return voidPayment(this.commands, command, context);
  }

  refundPayment(command: RefundPaymentCommand, context: RequestContext): Promise<RefundRecord> {
    return refundPayment(this.commands, command, context);
  }

  /** Releases holds past their expiry; returns how many this call expired. */
  expireDueHolds(limit?: number): Promise<number> {
    return expireDueHolds(this.db, this.commands, limit);
  }

  getPayment(paymentId: string, context?: RequestContext): Promise<PaymentRecord> {
    return getPayment(this.db, paymentId, readScopeOf(context));
  }

  getBalance(accountId: string, context?: RequestContext): Promise<BalanceRecord> {
    return getBalance(this.db, accountId, readScopeOf(context));
  }

  /** The payment `context`'s client authorized with this idempotency key. */
  getPaymentByIdempotencyKey(idempotencyKey: string, context: RequestContext): Promise<PaymentRecord> {
    return getPaymentByIdempotencyKey(this.db, context.clientId, idempotencyKey, readScopeOf(context));
  }

  /** The balance at an instant in the past, from the entries' running balances. */
  getBalanceAsOf(accountId: string, asOf: Date, consistency: ReadConsistency = {}, context?: RequestContext): Promise<BalanceRecord> {
    return getBalanceAsOf(this.#reader(consistency), accountId, asOf, readScopeOf(context));
  }

  /** The payments `context`'s caller may see (its tenant's; a token's accounts'). */
  listPayments(query: ListPaymentsQuery, consistency: ReadConsistency = {}, context?: RequestContext): Promise<Page<PaymentRecord>> {
    return listPayments(this.#reader(consistency), query, readScopeOf(context));
  }

  listAccounts(query: ListAccountsQuery, consistency: ReadConsistency = {}, context?: RequestContext): Promise<Page<AccountRecord>> {
    return listAccounts(this.#reader(consistency), query, readScopeOf(context));
  }

  /** One page of an account's statement. */
  listAccountEntries(query: ListEntriesQuery, consistency: ReadConsistency = {}, context?: RequestContext): Promise<Page<EntryRecord>> {
    return listAccountEntries(this.#reader(consistency), query, readScopeOf(context));
  }

  /** The balances now (or after `resumeToken`), then one message per statement line; ends when `signal` aborts or watches stop. */
  watchAccount(accountId: string, resumeToken: string, signal?: AbortSignal, context?: RequestContext): AsyncGenerator<AccountChange> {
    return watchAccount(this.db, this.changes, accountId, resumeToken, signal, readScopeOf(context));
  }

  /** Every new payment of an account (or after `resumeToken`); ends when `signal` aborts or watches stop. */
  watchPayments(accountId: string, resumeToken: string, signal?: AbortSignal, context?: RequestContext): AsyncGenerator<PaymentChange> {
    return watchPayments(this.db, this.changes, accountId, resumeToken, signal, readScopeOf(context));
  }

  /** Ends every watch stream cleanly (shutdown: before the server waits for in-flight calls). */
  stopWatches(): Promise<void> {
    return this.changes.stop();
  }

  /** Creates a tenant, or answers the existing one (same display name); operators only. */
  createTenant(command: CreateTenantCommand): Promise<TenantRecord> {
    return createTenant(this.db, command);
  }

  /** Who caused which write, newest first (audit.ts); operators only. */
  listAuditEvents(query: ListAuditEventsQuery, consistency: ReadConsistency = {}, context?: RequestContext): Promise<Page<AuditEventRecord>> {
    return listAuditEvents(this.#reader(consistency), query, readScopeOf(context));
  }

  /** Checks the whole ledger (sums, balances, hash chains); reads only. */
  verify(consistency: ReadConsistency = {}): Promise<VerificationReport> {
    return verifyLedger(this.#reader(consistency));
  }

  #reader(consistency: ReadConsistency): Database {
    return this.options.reads?.choose(consistency.writtenAt) ?? this.db;
  }
}
