/**
 * Releases holds past their expiry (status EXPIRED). Safe with several instances: each instance
 * submits `expire` commands through its batcher, and ledger_apply decides under the payer's balance
 * lock whether the hold is still open and expired; the loser of a race (another instance, or a
 * capture or void that came first) gets INVALID_PAYMENT_STATE and changes nothing.
 */
import { and, asc, eq, lte } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { paymentStates } from "../db/schema.js";
import type { PaymentBatcher } from "./payment-batch.js";
import { envelopeOf } from "./commands.js";

/** Expires up to `limit` due holds, oldest expiry first; returns how many this call expired. */
export async function expireDueHolds(db: Database, batcher: PaymentBatcher, limit = 500): Promise<number> {
  const due = await db
    .select({ paymentId: paymentStates.paymentId })
    .from(paymentStates)
    .where(and(eq(paymentStates.status, "REQUIRES_CAPTURE"), lte(paymentStates.holdExpiresAt, new Date())))
    .orderBy(asc(paymentStates.holdExpiresAt))
    .limit(limit);
  const outcomes = await Promise.all(
    due.map(({ paymentId }) =>
      batcher.submit({ ...envelopeOf({}), kind: "expire", paymentId }),
    ),
  );
  return outcomes.filter((outcome) => !("error" in outcome)).length;
}
