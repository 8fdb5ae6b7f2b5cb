/**
 * Whole-ledger verification. The checks live in one place, the database function ledger_verify
 * (src/ledger/sql/60-verify-ledger.sql), next to the hash they recompute; this runs it in one
 * REPEATABLE READ snapshot, so concurrent payments cannot make a sound ledger look unbalanced
 * halfway through the read.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";

/** One thing found wrong. */
export interface Violation {
  /** A check of ledger_verify (src/ledger/sql/60-verify-ledger.sql), e.g. BALANCE_MISMATCH or HELD_MISMATCH. */
  check: string;
  /** A currency, an account id or "entry <id>". */
  subject: string;
  detail: string;
}

export interface VerificationReport {
  ok: boolean;
  violations: Violation[];
}

/** Checks the whole ledger; reads only. */
export async function verifyLedger(db: Database): Promise<VerificationReport> {
  const violations = await db.transaction(
    (tx) =>
      queryRows<{ check_name: string; subject: string; detail: string }>(
        tx,
        sql`select check_name, subject, detail from ledger_verify() order by check_name, subject`,
      ),
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
  return { ok: violations.length === 0, violations: violations.map((v) => ({ check: v.check_name, subject: v.subject, detail: v.detail })) };
}
