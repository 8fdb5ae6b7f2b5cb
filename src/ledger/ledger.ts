/**
 * The ledger's public face: every operation the API offers, bound to one database. Handlers call
 * this and never build SQL; this knows nothing of Connect or HTTP.
 */
import type { Database } from "../db/client.js";
import { createAccount, getAccount, type CreateAccountCommand } from "./accounts.js";
import { depositFunds, type DepositFundsCommand } from "./deposits.js";
import { sweepExpiredKeys } from "./idempotency.js";
import { authorizePayment, getBalance, getPayment, type AuthorizePaymentCommand } from "./payments.js";
import type { AccountRecord, BalanceRecord, DepositRecord, PaymentRecord, RequestContext } from "./records.js";

export interface LedgerOptions {
  /** How long idempotency keys are kept before they may be reused and are swept. */
  idempotencyTtlHours: number;
}

/** The payment ledger over one database. */
export class Ledger {
  constructor(
    readonly db: Database,
    private readonly options: LedgerOptions,
  ) {}

  createAccount(command: CreateAccountCommand, context: RequestContext): Promise<AccountRecord> {
    return createAccount(this.db, command, context);
  }

  getAccount(accountId: string): Promise<AccountRecord> {
    return getAccount(this.db, accountId);
  }

  depositFunds(command: DepositFundsCommand, context: RequestContext): Promise<DepositRecord> {
    return depositFunds(this.db, command, context, this.options.idempotencyTtlHours);
  }

  authorizePayment(command: AuthorizePaymentCommand, context: RequestContext): Promise<PaymentRecord> {
    return authorizePayment(this.db, command, context, this.options.idempotencyTtlHours);
  }

  getPayment(paymentId: string): Promise<PaymentRecord> {
    return getPayment(this.db, paymentId);
  }

  getBalance(accountId: string): Promise<BalanceRecord> {
    return getBalance(this.db, accountId);
  }

  /** Deletes expired idempotency keys; returns how many. */
  sweepExpiredIdempotencyKeys(): Promise<number> {
    return sweepExpiredKeys(this.db);
  }
}
