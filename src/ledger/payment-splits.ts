/**
 * Split payments on the TypeScript side: what a request's legs must be before they reach the
 * database, their part of the idempotency fingerprint, and their form in the authorize item. The
 * money rules of splits (one decision, the division of partial captures and refunds) live in SQL:
 * src/ledger/sql/21-ledger-splits.sql and ledger_split_shares in 15-ledger-authorize-rules.sql.
 */
import { invalidArgument } from "./ledger-error.js";
import { requireAmount, requireCustomerAccountId } from "./validation.js";

/** One payee's part of a split payment. */
export interface PaymentSplit {
  payeeAccountId: string;
  amountCents: bigint;
  /** Output only (what the leg received and gave back): absent or 0 in a request. */
  capturedCents?: bigint;
  refundedCents?: bigint;
}

/** Most payees of one split payment: each is one more balance row locked by the payment. */
export const MAX_SPLITS = 10;

/**
 * The legs of a split payment: 1 to MAX_SPLITS distinct customer accounts other than the payer,
 * each part at least 1, summing to the amount, with no payee of the payment's own. (Their
 * currency is decided with the funds, under the locks: a payee in another currency declines the
 * payment with CURRENCY_MISMATCH, as a single payee would.)
 */
export function requireSplits(payerAccountId: string, payeeAccountId: string, amountCents: bigint, splits: readonly PaymentSplit[]): void {
  if (payeeAccountId !== "") throw invalidArgument("payee_account_id", "must be empty when splits are set (the payees are the splits)");
  if (splits.length > MAX_SPLITS) throw invalidArgument("splits", `must hold at most ${MAX_SPLITS} payees, got ${splits.length}`);
  const seen = new Map<string, number>();
  let sum = 0n;
  splits.forEach((leg, i) => {
    const field = `splits[${i}].payee_account_id`;
    requireCustomerAccountId(field, leg.payeeAccountId);
    if (leg.payeeAccountId === payerAccountId) throw invalidArgument(field, "must differ from payer_account_id");
    const earlier = seen.get(leg.payeeAccountId);
    if (earlier !== undefined) throw invalidArgument(field, `names the same account as splits[${earlier}]; each payee may appear once`);
    seen.set(leg.payeeAccountId, i);
    requireAmount(`splits[${i}].amount_cents`, leg.amountCents);
    if (leg.capturedCents) throw invalidArgument(`splits[${i}].captured_cents`, "is output only (what the leg received); leave it unset");
    if (leg.refundedCents) throw invalidArgument(`splits[${i}].refunded_cents`, "is output only (what the leg gave back); leave it unset");
    sum += leg.amountCents;
  });
  if (sum !== amountCents) {
    throw invalidArgument("splits", `the parts sum to ${sum}, but amount_cents is ${amountCents}; they must be equal`);
  }
}

/** The legs as the request's fingerprint holds them: the same payees and parts in the same order. */
export function splitsFingerprint(splits: readonly PaymentSplit[]): string {
  return splits.map((leg) => `${leg.payeeAccountId}:${leg.amountCents}`).join(",");
}

/** The legs as the authorize item carries them (CommandItems.authorize.splits, ledger-core.ts). */
export function splitItems(splits: readonly PaymentSplit[]): { payeeAccountId: string; amountCents: string }[] {
  return splits.map((leg) => ({ payeeAccountId: leg.payeeAccountId, amountCents: leg.amountCents.toString() }));
}
