/**
 * Live views of an account: its balance and every entry that changes it, and its payments. A
 * watcher keeps only its position (the last entry sequence, or the last payment key); on each
 * change notification (change-feed.ts), or every POLL_MS in case one was lost, it reads what lies
 * beyond that position from the database, at most READ_BATCH rows at a time. So every change made
 * through any instance reaches it, in order and without gaps, and a resume from a position it was
 * given continues exactly there.
 *
 * Slow watchers: rows are read only when the stream is ready for the next message, so nothing
 * piles up in memory; a watcher that falls more than MAX_LAG entries behind the account's head is
 * ended with WATCH_TOO_SLOW and told where to resume, rather than being fed an endless backlog.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { accountNotFound } from "./accounts.js";
import type { ChangeFeed } from "./change-feed.js";
import { entriesAfter, newestPaymentKey, paymentsAfter, type EntryRecord } from "./history.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import { decodePageToken, encodePageToken, type PageKey } from "./page-token.js";
import type { BalanceRecord, PaymentRecord } from "./records.js";
import { requireAnyAccountId } from "./validation.js";

/** Poll interval when no notification arrives: bounds the delay after a lost notification. */
const POLL_MS = 5_000;
/** Rows read per round trip. */
const READ_BATCH = 100;
/** Entries a watcher may trail the account by before it is ended (it may resume from its position). */
export const MAX_WATCH_LAG = 10_000;

/** One message of an account watch: the balance, and the entry that made it so (none in the first). */
export interface AccountChange {
  balance: BalanceRecord;
  /** Absent in the first message (the balance when the watch started). */
  entry?: EntryRecord;
}

/** One message of a payment watch, with the token that resumes right after it. */
export interface PaymentChange {
  payment: PaymentRecord;
  resumeToken: string;
}

/**
 * The balance of `accountId` now, then one change per entry. With `resumeAfterSequence` the first
 * message is the balance as of that entry, followed by every later entry.
 */
export async function* watchAccount(
  db: Database,
  feed: ChangeFeed,
  accountId: string,
  resumeAfterSequence: bigint | undefined,
  signal?: AbortSignal,
): AsyncGenerator<AccountChange> {
  requireAnyAccountId("account_id", accountId);
  if (resumeAfterSequence !== undefined && resumeAfterSequence < 0n) throw invalidArgument("resume_after_sequence", "must not be negative");
  const subscription = feed.subscribe(`a:${accountId}`);
  try {
    const head = await accountHead(db, accountId);
    let position = resumeAfterSequence ?? head.sequence;
    if (position > head.sequence) throw invalidArgument("resume_after_sequence", `account ${accountId} has only ${head.sequence} entries`);
    const start = position === head.sequence ? { cents: head.availableCents, at: head.updatedAt } : await balanceAfter(db, accountId, position);
    yield { balance: { accountId, currency: head.currency, availableCents: start.cents, version: position, updatedAt: start.at ?? head.updatedAt } };

    while (!subscription.closed && !signal?.aborted) {
      const entries = await entriesAfter(db, accountId, position, READ_BATCH);
      if (entries.length === 0) {
        await subscription.wait(POLL_MS, signal);
        continue;
      }
      if (entries.length === READ_BATCH) {
        const latest = await accountHead(db, accountId);
        if (latest.sequence - position > BigInt(MAX_WATCH_LAG)) {
          throw new LedgerError(
            LedgerErrorCode.WATCH_TOO_SLOW,
            `resume_after_sequence: the watcher fell ${latest.sequence - position} entries behind (more than ${MAX_WATCH_LAG}); ` +
              `read the statement from sequence ${position} with ListAccountEntries, then watch again`,
            "resume_after_sequence",
          );
        }
      }
      for (const entry of entries) {
        position = entry.sequence;
        yield {
          entry,
          balance: { accountId, currency: entry.currency, availableCents: entry.balanceAfterCents, version: entry.sequence, updatedAt: entry.createdAt },
        };
      }
    }
  } finally {
    subscription.close();
  }
}

/**
 * Every new payment of `accountId` (as payer or payee) from now on, or after `resumeToken` (the
 * token of the last payment received). Payments are ordered by (created_at, id); created_at is
 * taken by the instance that authorized the payment, so across instances with skewed clocks a
 * payment may be stamped before one already delivered (see README, "Live updates").
 */
export async function* watchPayments(
  db: Database,
  feed: ChangeFeed,
  accountId: string,
  resumeToken: string,
  signal?: AbortSignal,
): AsyncGenerator<PaymentChange> {
  requireAnyAccountId("account_id", accountId);
  const filters = { watch: accountId };
  let position: PageKey | undefined = decodePageToken("resume_token", resumeToken, filters, 2);
  const subscription = feed.subscribe(`p:${accountId}`);
  try {
    await accountHead(db, accountId);
    position ??= (await newestPaymentKey(db, accountId)) ?? ["0", ""];
    while (!subscription.closed && !signal?.aborted) {
      const rows = await paymentsAfter(db, accountId, position, READ_BATCH);
      if (rows.length === 0) {
        await subscription.wait(POLL_MS, signal);
        continue;
      }
      for (const row of rows) {
        position = row.key;
        yield { payment: row.payment, resumeToken: encodePageToken(filters, row.key) };
      }
    }
  } finally {
    subscription.close();
  }
}

async function accountHead(db: Database, accountId: string) {
  const [row] = await queryRows<{ currency: string; available_cents: string; sequence: string; updated_us: string }>(db, sql`
    select b.currency, b.available_cents::text as available_cents,
           coalesce((select max(account_seq) from ledger_entries where account_id = b.account_id), 0)::text as sequence,
           (extract(epoch from b.updated_at) * 1000000)::bigint::text as updated_us
    from balances b where b.account_id = ${accountId}`);
  if (!row) throw accountNotFound("account_id", accountId);
  return {
    currency: row.currency,
    availableCents: BigInt(row.available_cents),
    sequence: BigInt(row.sequence),
    updatedAt: new Date(Number(BigInt(row.updated_us) / 1000n)),
  };
}

async function balanceAfter(db: Database, accountId: string, sequence: bigint): Promise<{ cents: bigint; at?: Date }> {
  if (sequence === 0n) return { cents: 0n };
  const [entry] = await entriesAfter(db, accountId, sequence - 1n, 1);
  return { cents: entry!.balanceAfterCents, at: entry!.createdAt };
}
