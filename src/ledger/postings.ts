/**
 * The double-entry core shared by deposits and payments: lock balance rows in a deterministic
 * order, then move an amount from one account to another with one debit and one credit entry.
 */
import { inArray, sql } from "drizzle-orm";
import type { Transaction } from "../db/client.js";
import { balances, ledgerEntries } from "../db/schema.js";

export type LockedBalance = typeof balances.$inferSelect;

/**
 * Locks the balance rows of `accountIds` FOR UPDATE in account-id order, so that two transfers
 * between the same accounts always lock in the same order and cannot deadlock. Missing accounts
 * are simply absent from the returned map.
 */
export async function lockBalances(tx: Transaction, accountIds: string[]): Promise<Map<string, LockedBalance>> {
  const rows = await tx
    .select()
    .from(balances)
    .where(inArray(balances.accountId, accountIds))
    .orderBy(balances.accountId)
    .for("update");
  return new Map(rows.map((row) => [row.accountId, row]));
}

export interface Posting {
  /** The payment or deposit id the entries belong to. */
  transferId: string;
  debitAccountId: string;
  creditAccountId: string;
  amountCents: bigint;
  currency: string;
  at: Date;
}

/**
 * Applies a posting whose balance rows the caller has locked: updates both balances in one
 * statement and writes the two immutable entries. Returns the new available balances by account.
 */
export async function post(tx: Transaction, posting: Posting): Promise<Map<string, bigint>> {
  const { debitAccountId, creditAccountId, amountCents, at } = posting;
  const updated = await tx
    .update(balances)
    .set({
      availableCents: sql`${balances.availableCents} + case when ${balances.accountId} = ${debitAccountId}
        then ${-amountCents}::bigint else ${amountCents}::bigint end`,
      version: sql`${balances.version} + 1`,
      updatedAt: at,
    })
    .where(inArray(balances.accountId, [debitAccountId, creditAccountId]))
    .returning({ accountId: balances.accountId, availableCents: balances.availableCents });
  await tx.insert(ledgerEntries).values([
    { ...entryOf(posting), accountId: debitAccountId, amountCents: -amountCents },
    { ...entryOf(posting), accountId: creditAccountId, amountCents },
  ]);
  return new Map(updated.map((row) => [row.accountId, row.availableCents]));
}

function entryOf(posting: Posting) {
  return { transferId: posting.transferId, currency: posting.currency, createdAt: posting.at };
}
