/**
 * The items `npm run bench:function` hands ledger_apply when it times one command kind, in the form
 * the service sends them (src/ledger/commands.ts, declared in src/ledger/ledger-core.ts). Kinds that
 * act on payments (capture, void, refund, mixed) come with a preparation batch: the authorizations
 * they act on, applied untimed just before the timed call.
 */
import { randomInt } from "node:crypto";

/** What bench:function can time: each command kind the set paths take, and a mix of them. */
export const FUNCTION_KINDS = ["authorize", "deposit", "withdraw", "capture", "void", "refund", "mixed"] as const;
export type FunctionKind = (typeof FUNCTION_KINDS)[number];

/** The funding account deposits and payouts of the bench go through (ensureFundingAccount's id). */
export const BENCH_FUNDING_ACCOUNT = "funding.EUR";

interface Accounts {
  prefix: string;
  count: number;
  /** Every payment pays account 1, every deposit and payout is account 1's. */
  hot: boolean;
}

/** A payer and a payee, as batch-function.pgbench draws them. */
function pair(a: Accounts): [string, string] {
  const payer = a.hot ? 2 + randomInt(a.count - 1) : 1 + randomInt(a.count);
  const other = 1 + randomInt(a.count - 1);
  const payee = a.hot ? 1 : other >= payer ? other + 1 : other;
  return [`${a.prefix}${payer}`, `${a.prefix}${payee}`];
}

function keyed<F extends Record<string, unknown>>(kind: string, id: string, at: string, fields: F) {
  return { kind, clientId: "bench", key: `k${id}`, method: kind, requestHash: `h${id}`, at, eventId: `e${id}`, traceparent: null, ...fields };
}

function authorize(a: Accounts, id: string, at: string, manual: boolean) {
  const [payer, payee] = pair(a);
  return keyed("authorize", id, at, {
    paymentId: `p${id}`, payerAccountId: payer, payeeAccountId: payee, amountCents: String(1 + randomInt(100)), currency: "EUR",
    description: "bench", captureMethod: manual ? "MANUAL" : "AUTOMATIC",
    holdExpiresAt: manual ? new Date(Date.now() + 86_400_000).toISOString() : null,
  });
}

/** One item of `kind` (not mixed) with id `id`; `payment` is the id of the prepared payment it acts on. */
function itemOf(kind: Exclude<FunctionKind, "mixed">, a: Accounts, id: string, at: string, payment: string) {
  const account = a.hot ? `${a.prefix}1` : `${a.prefix}${1 + randomInt(a.count)}`;
  const amount = String(1 + randomInt(100));
  switch (kind) {
    case "authorize":
      return authorize(a, id, at, false);
    case "deposit":
      return keyed("deposit", id, at, { depositId: `d${id}`, accountId: account, amountCents: amount, currency: "EUR", fundingAccountId: BENCH_FUNDING_ACCOUNT });
    case "withdraw":
      return keyed("withdraw", id, at, {
        withdrawalId: `w${id}`, accountId: account, amountCents: amount, currency: "EUR", reference: "bench", fundingAccountId: BENCH_FUNDING_ACCOUNT,
      });
    case "capture":
      return keyed("capture", id, at, { paymentId: payment, amountCents: "0" });
    case "void":
      return keyed("void", id, at, { paymentId: payment });
    case "refund":
      return keyed("refund", id, at, { refundId: `r${id}`, paymentId: payment, amountCents: "1", reason: "bench" });
  }
}

/** The kinds a mixed batch cycles through: every kind the general set path (26-ledger-apply-moves.sql) takes. */
const MIXED: Exclude<FunctionKind, "mixed">[] = ["authorize", "deposit", "capture", "withdraw", "refund", "void"];

/**
 * `n` items of `kind`, ids from `tag`, and the batch that must be applied before them (the
 * payments they act on; empty for authorize, deposit and withdraw).
 */
export function functionBatch(kind: FunctionKind, a: Accounts, n: number, tag: string): { prepare: object[]; items: object[] } {
  const at = new Date().toISOString();
  const prepare: object[] = [];
  const items = Array.from({ length: n }, (_, g) => {
    const id = `${tag}-${g}`;
    const what = kind === "mixed" ? MIXED[g % MIXED.length]! : kind;
    let payment = "";
    if (what === "capture" || what === "void" || what === "refund") {
      const prepared = authorize(a, `${id}-prep`, at, what !== "refund");
      prepare.push(prepared);
      payment = prepared.paymentId;
    }
    return itemOf(what, a, id, at, payment);
  });
  return { prepare, items };
}
