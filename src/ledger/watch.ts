/**
 * Live views of an account: its balances and every statement line (entry or hold movement) that
 * changes them, and every step of its payments. A watcher keeps only its position (the last line's
 * sequence, or the last payment step's position in the account); on each
 * change notification (change-feed.ts), or every POLL_MS in case one was lost, it reads what lies
 * beyond that position from the database, at most READ_BATCH rows at a time. So every change made
 * through any instance reaches it, in order and without gaps, and a resume from a position it was
 * given continues exactly there.
 *
 * Slow watchers: rows are read only when the stream is ready for the next message, so nothing
 * piles up in memory; a watcher that falls more than MAX_LAG lines behind the account's head is
 * ended with WATCH_TOO_SLOW and told where to resume, rather than being fed an endless backlog.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { accountNotFound } from "./accounts.js";
import type { ChangeFeed } from "./change-feed.js";
import {
  headLineSequence,
  linesAfter,
  newestLine,
  newestPaymentStep,
  paymentStepOfTransitionId,
  transitionsAfter,
  type EntryRecord,
  type PaymentTransition,
} from "./history.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { DEFAULT_SCOPE, accountInScope, type ReadScope } from "./read-scope.js";
import type { BalanceRecord, PaymentRecord } from "./records.js";
import { requireAnyAccountId } from "./validation.js";

/** Poll interval when no notification arrives: bounds the delay after a lost notification. */
const POLL_MS = 5_000;
/** Rows read per round trip. */
const READ_BATCH = 100;
/** Lines a watcher may trail the account by before it is ended (it may resume from its position). */
export const MAX_WATCH_LAG = 10_000;

/** One message of an account watch: the balances, and the statement line that made them so (none in the first). */
export interface AccountChange {
  balance: BalanceRecord;
  /** Absent in the first message (the balances when the watch started). */
  entry?: EntryRecord;
  /** Resumes right after this message. */
  resumeToken: string;
}

/** One message of a payment watch: a step of one of the account's payments, with the token that resumes right after it. */
export interface PaymentChange {
  /** The payment as it is now. */
  payment: PaymentRecord;
  /** The step itself. */
  transition: Omit<PaymentTransition, "payment">;
  resumeToken: string;
}

/**
 * The balances of `accountId` now, then one change per statement line: every entry and every hold
 * movement (statementLines in history.ts), so each change of the available balance is streamed.
 * With `resumeToken` (a message's token) the first message is the balances as of that line,
 * followed by every later line.
 */
export async function* watchAccount(
  db: Database,
  feed: ChangeFeed,
  accountId: string,
  resumeToken: string,
  signal?: AbortSignal,
  scope: ReadScope = DEFAULT_SCOPE,
): AsyncGenerator<AccountChange> {
  requireAnyAccountId("account_id", accountId);
  // Positions are line sequences (v2); a token of the earlier (time, rank, id) form is refused.
  const filters = { watchAccount: accountId, v: 2 };
  const resumed = decodePageToken("resume_token", resumeToken, filters, 1);
  const subscription = feed.subscribe(`a:${accountId}`);
  try {
    const head = await accountHead(db, accountId, scope);
    let position: bigint | undefined;
    let start: BalanceRecord;
    if (resumed) {
      const wanted = /^[0-9]{1,19}$/.test(resumed[0]!) ? BigInt(resumed[0]!) : -1n;
      const [line] = await linesAfter(db, accountId, wanted, 1, true);
      if (!line || line.lineSequence !== wanted) throw invalidArgument("resume_token", `names no statement line of account ${accountId}`);
      position = line.lineSequence;
      start = balancesAfter(line, head);
    } else {
      const newest = await newestLine(db, accountId);
      position = newest?.lineSequence;
      start = newest ? balancesAfter(newest, head) : { ...head.balance };
    }
    yield { balance: start, resumeToken: position !== undefined ? encodePageToken(filters, [position.toString()]) : "" };

    while (!subscription.closed && !signal?.aborted) {
      const lines = await linesAfter(db, accountId, position, READ_BATCH);
      if (lines.length === 0) {
        await subscription.wait(POLL_MS, signal);
        continue;
      }
      if (lines.length === READ_BATCH) {
        // Lines are numbered without gaps, so the distance to the head is exact.
        const behind = (await headLineSequence(db, accountId)) - lines[0]!.lineSequence;
        if (behind > BigInt(MAX_WATCH_LAG)) {
          throw new LedgerError(
            LedgerErrorCode.WATCH_TOO_SLOW,
            `resume_token: the watcher fell ${behind} changes behind (more than ${MAX_WATCH_LAG}); ` +
              `read the statement with ListAccountEntries, then watch again`,
            "resume_token",
          );
        }
      }
      for (const line of lines) {
        position = line.lineSequence;
        yield { entry: line, balance: balancesAfter(line, head), resumeToken: encodePageToken(filters, line.key) };
      }
    }
  } finally {
    subscription.close();
  }
}

/** The balances right after a statement line. */
function balancesAfter(line: EntryRecord, head: { balance: BalanceRecord }): BalanceRecord {
  return {
    accountId: line.accountId,
    currency: head.balance.currency,
    availableCents: line.availableAfterCents,
    heldCents: line.balanceAfterCents - line.availableAfterCents,
    ledgerCents: line.balanceAfterCents,
    overdraftLimitCents: head.balance.overdraftLimitCents,
    entrySequence: line.sequence,
    revision: null,
    updatedAt: line.createdAt,
  };
}

/**
 * Every step of the payments of `accountId` (as payer or payee) from now on, or after
 * `resumeToken` (the token of the last message received): a new payment (authorized, held or
 * declined), then its capture, void, expiry and refunds, in the order they were committed
 * (the account's step positions; see transitionsAfter in history.ts), each with the payment as it is now.
 */
export async function* watchPayments(
  db: Database,
  feed: ChangeFeed,
  accountId: string,
  resumeToken: string,
  signal?: AbortSignal,
  scope: ReadScope = DEFAULT_SCOPE,
): AsyncGenerator<PaymentChange> {
  requireAnyAccountId("account_id", accountId);
  // v3: positions are the account's payment step numbers. A v2 token (a transition id) still
  // resumes: it is translated to the step it stands for. Tokens of the earlier (time, payment id)
  // form are refused.
  const filters = { watch: accountId, v: 3 };
  const resumed = decodeStepToken(resumeToken, accountId);
  const subscription = feed.subscribe(`p:${accountId}`);
  try {
    await accountHead(db, accountId, scope);
    let position = resumed === undefined
      ? await newestPaymentStep(db, accountId)
      : resumed.version === 3 ? resumed.position : await paymentStepOfTransitionId(db, accountId, resumed.position);
    while (!subscription.closed && !signal?.aborted) {
      const steps = await transitionsAfter(db, accountId, position, READ_BATCH);
      if (steps.length === 0) {
        await subscription.wait(POLL_MS, signal);
        continue;
      }
      for (const { payment, ...transition } of steps) {
        position = transition.position;
        yield { payment, transition, resumeToken: encodePageToken(filters, [position.toString()]) };
      }
    }
  } finally {
    subscription.close();
  }
}

/**
 * The position a payment watch token carries and the token's version (3: a step position, 2: a
 * transition id), undefined for no token; anything else is refused as invalid_argument.
 */
function decodeStepToken(token: string, accountId: string): { version: 2 | 3; position: bigint } | undefined {
  if (token === "") return undefined;
  for (const version of [3, 2] as const) {
    let key: string[] | undefined;
    try {
      key = decodePageToken("resume_token", token, { watch: accountId, v: version }, 1);
    } catch (error) {
      if (version === 2) throw error;
      continue;
    }
    if (!key || !/^[0-9]{1,19}$/.test(key[0]!)) throw invalidArgument("resume_token", "is not a page token issued by this service");
    return { version, position: BigInt(key[0]!) };
  }
  return undefined;
}

/**
 * The account's balances now, as of its last entry (a watch has no use for the row's revision);
 * NOT_FOUND outside `scope`, as for a missing account (a resume token names its account, so no
 * token opens another tenant's stream).
 */
async function accountHead(db: Database, accountId: string, scope: ReadScope) {
  const [row] = await queryRows<{ currency: string; available_cents: string; held_cents: string; overdraft_limit_cents: string; sequence: string; updated_us: string }>(db, sql`
    select b.currency, b.available_cents::text as available_cents, b.held_cents::text as held_cents,
           b.overdraft_limit_cents::text as overdraft_limit_cents,
           coalesce(b.entry_seq, 0)::text as sequence,
           (extract(epoch from b.updated_at) * 1000000)::bigint::text as updated_us
    from balances b where b.account_id = ${accountId} and ${accountInScope(scope, sql`b.account_id`, sql`b.tenant_id`)}`);
  if (!row) throw accountNotFound("account_id", accountId);
  const available = BigInt(row.available_cents);
  const held = BigInt(row.held_cents);
  return {
    balance: {
      accountId,
      currency: row.currency,
      availableCents: available,
      heldCents: held,
      ledgerCents: available + held,
      overdraftLimitCents: BigInt(row.overdraft_limit_cents),
      entrySequence: BigInt(row.sequence),
      revision: null,
      updatedAt: new Date(Number(BigInt(row.updated_us) / 1000n)),
    } satisfies BalanceRecord,
  };
}
