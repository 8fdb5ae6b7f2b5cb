/**
 * What an account token may touch: only the accounts it lists. Every account a call names
 * (`account_id`, `payer_account_id`, `payee_account_id`, in items and split legs too) must be
 * listed, and so must every account of every payment it names by id (payer, payee, split payees);
 * a payment that touches an unlisted account is answered as absent. Calls that name no account
 * (ListAccounts, a ListPayments over the tenant) or that reach beyond accounts (CreateAccount,
 * MintAccountToken, operator calls) are refused to tokens. Which rule a procedure follows is the
 * table below, total over API_PROCEDURES (test/auth/token-boundary.test.ts).
 */
import { inArray } from "drizzle-orm";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { EdgeErrorCode, catalogueError, excerpt } from "../api/error-catalogue.js";
import { procedureOf } from "../api/procedures.js";
import type { Database } from "../db/client.js";
import { paymentSplits, payments } from "../db/schema.js";
import { LedgerError, LedgerErrorCode } from "../ledger/ledger-error.js";

/**
 * `accounts`: the call must name at least one account or payment, all within the list.
 * `answer`: the same for what it names, but it may name none (GetPayment by idempotency key): the
 * payment in the answer is checked instead. `refused`: never for tokens.
 */
export type TokenRule = "accounts" | "answer" | "refused";

const A = AccountService.method;
const P = PaymentService.method;
const rules: [{ parent: { typeName: string }; name: string }, TokenRule][] = [
  [A.createAccount, "refused"],
  [A.getAccount, "accounts"],
  [A.depositFunds, "accounts"],
  [A.listAccounts, "refused"],
  [A.listAccountEntries, "accounts"],
  [A.watchAccount, "accounts"],
  [A.withdrawFunds, "accounts"],
  [A.updateAccount, "refused"],
  [A.withdrawFundsBatch, "accounts"],
  [A.closeAccount, "accounts"],
  [A.mintAccountToken, "refused"],
  [P.authorizePayment, "accounts"],
  [P.getPayment, "answer"],
  [P.getAccountBalance, "accounts"],
  [P.listPayments, "accounts"],
  [P.watchPayments, "accounts"],
  [P.capturePayment, "accounts"],
  [P.voidPayment, "accounts"],
  [P.refundPayment, "accounts"],
  [P.authorizePayments, "accounts"],
  [P.capturePayments, "accounts"],
  [P.refundPayments, "accounts"],
  [P.updatePayment, "accounts"],
  ...AdminService.methods.map((method) => [method, "refused"] as [typeof method, TokenRule]),
];
const ruleOf = new Map(rules.map(([method, rule]) => [procedureOf(method.parent, method), rule]));

/** The rule of a procedure for account tokens; undefined for a procedure missing from the table. */
export function tokenRule(procedure: string): TokenRule | undefined {
  return ruleOf.get(procedure);
}

/** Account ids and payment ids a request message names, at any depth. */
export function namedIds(message: unknown): { accountIds: Set<string>; paymentIds: Set<string> } {
  const found = { accountIds: new Set<string>(), paymentIds: new Set<string>() };
  const visit = (value: unknown, depth: number): void => {
    if (depth > 8 || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) return value.forEach((item) => visit(item, depth + 1));
    for (const [name, field] of Object.entries(value)) {
      if (name === "$typeName" || name === "$unknown") continue;
      if (typeof field === "string" && field !== "") {
        if (/AccountId$|^accountId$/.test(name)) found.accountIds.add(field);
        else if (name === "paymentId") found.paymentIds.add(field);
      } else if (Array.isArray(field) && /AccountIds$|^accountIds$/.test(name)) {
        for (const id of field) if (typeof id === "string" && id !== "") found.accountIds.add(id);
      } else {
        visit(field, depth + 1);
      }
    }
  };
  visit(message, 0);
  return found;
}

export class TokenBoundary {
  private db?: Database;

  attach(db: Database): void {
    this.db = db;
  }

  /** Throws PERMISSION_DENIED (or PAYMENT_NOT_FOUND) unless the request stays within `listed`. */
  async check(procedure: string, message: unknown, listed: readonly string[]): Promise<void> {
    const rule = tokenRule(procedure);
    if (rule !== "accounts" && rule !== "answer") throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, `${procedure} is not open to account tokens: call it with an API key`);
    const allowed = new Set(listed);
    const { accountIds, paymentIds } = namedIds(message);
    if (rule === "accounts" && accountIds.size === 0 && paymentIds.size === 0) {
      throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, `${procedure} with an account token must name one of its accounts`);
    }
    for (const id of accountIds) {
      if (!allowed.has(id)) throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, `the account token does not list account ${excerpt(id)}`);
    }
    if (paymentIds.size === 0) return;
    for (const paymentId of await this.paymentsOutside([...paymentIds], allowed)) {
      // Answered as the ledger answers a payment that does not exist: the token learns nothing of it.
      throw new LedgerError(LedgerErrorCode.PAYMENT_NOT_FOUND, `payment ${excerpt(paymentId)} does not exist`, "payment_id");
    }
  }

  /** Checks an answer's payment (GetPayment by idempotency key names none in its request). */
  checkAnswer(message: unknown, listed: readonly string[]): void {
    const payment = (message as { payment?: { paymentId?: string; payerAccountId?: string; payeeAccountId?: string; splits?: { payeeAccountId?: string }[] } }).payment;
    if (!payment) return;
    const allowed = new Set(listed);
    const touched = [payment.payerAccountId, payment.payeeAccountId, ...(payment.splits ?? []).map((leg) => leg.payeeAccountId)];
    if (touched.some((id) => id && !allowed.has(id))) {
      throw new LedgerError(LedgerErrorCode.PAYMENT_NOT_FOUND, `payment ${excerpt(payment.paymentId ?? "")} does not exist`, "payment_id");
    }
  }

  /** The named payments that touch an account outside `allowed` (payments that do not exist touch none). */
  private async paymentsOutside(paymentIds: string[], allowed: ReadonlySet<string>): Promise<string[]> {
    if (!this.db) return paymentIds;
    const [heads, legs] = await Promise.all([
      this.db
        .select({ id: payments.id, payer: payments.payerAccountId, payee: payments.payeeAccountId })
        .from(payments)
        .where(inArray(payments.id, paymentIds)),
      this.db
        .select({ id: paymentSplits.paymentId, payee: paymentSplits.payeeAccountId })
        .from(paymentSplits)
        .where(inArray(paymentSplits.paymentId, paymentIds)),
    ]);
    const outside = new Set<string>();
    for (const row of heads) if (!allowed.has(row.payer) || (row.payee && !allowed.has(row.payee))) outside.add(row.id);
    for (const row of legs) if (!allowed.has(row.payee)) outside.add(row.id);
    return [...outside];
  }
}
