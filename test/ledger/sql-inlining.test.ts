/**
 * The ledger's small LANGUAGE sql helpers (rules, line rows, payloads, refusals) are written as
 * functions so that each rule has one home, and cost nothing only while PostgreSQL inlines them
 * into the calling statement. One that cannot be inlined (declared IMMUTABLE over a STABLE body,
 * or with a FROM or a subquery) runs as a function of its own, parsed and planned again on every
 * ledger_apply call: four closed-account refusals did, about a tenth of a 1-item call. This test
 * runs every command kind on both paths (1 item: the loop; 8: the set paths) with
 * `track_functions = all` and fails on any LANGUAGE sql function that was called rather than inlined.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { FUNCTION_KINDS, functionBatch } from "../../scripts/bench/function-items.js";
import { createFunctionDatabase, type FunctionDatabase } from "../support/function-database.js";

/** Not inlinable by design (a FROM over the legs) and only on split payments, which these kinds are not. */
const CALLED_ON_PURPOSE = new Set(["ledger_split_shares", "ledger_split_legs"]);

let db: FunctionDatabase;
let sql: postgres.Sql;

before(async () => {
  db = await createFunctionDatabase("inl-", 20);
  sql = db.sql;
});
after(() => db.close());

/** The LANGUAGE sql functions `items` made PostgreSQL call (not inline), by name, with their outcomes. */
async function sqlFunctionsCalled(items: object[]): Promise<{ called: string[]; outcomes: { error?: unknown }[] }> {
  return sql.begin(async (tx) => {
    await tx`set local track_functions = 'all'`;
    const [row] = await tx<{ outcomes: { error?: unknown }[] }[]>`select ledger_apply(${JSON.stringify(items)}::text::jsonb, 24) as outcomes`;
    const called = await tx<{ name: string }[]>`
      select f.funcname as name from pg_stat_xact_user_functions f
        join pg_proc p on p.oid = f.funcid join pg_language l on l.oid = p.prolang
       where l.lanname = 'sql' and f.calls > 0 order by 1`;
    return { called: called.map((r) => r.name).filter((name) => !CALLED_ON_PURPOSE.has(name)), outcomes: row!.outcomes };
  }) as Promise<{ called: string[]; outcomes: { error?: unknown }[] }>;
}

for (const kind of FUNCTION_KINDS) {
  for (const size of [1, 8]) {
    it(`${kind} x${size}: every SQL helper is inlined`, async () => {
      const batch = functionBatch(kind, { prefix: "inl-", count: 20, hot: false }, size, `inl-${kind}-${size}-${Date.now()}`);
      if (batch.prepare.length > 0) await sql`select ledger_apply(${JSON.stringify(batch.prepare)}::text::jsonb, 24)`;
      const { called, outcomes } = await sqlFunctionsCalled(batch.items);
      // The batch did its work (a refused item would skip most rules and prove little).
      assert.deepEqual(outcomes.filter((o) => o.error !== undefined), []);
      assert.deepEqual(called, []);
    });
  }
}

it("the check sees a helper that is not inlined (negative control)", async () => {
  // The regression this test guards against, made on purpose in a transaction that rolls back.
  const seen = await sql.begin(async (tx) => {
    await tx`create or replace function ledger_iso(p_at timestamptz) returns text language sql immutable as $$
      select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$`;
    await tx`set local track_functions = 'all'`;
    const batch = functionBatch("authorize", { prefix: "inl-", count: 20, hot: false }, 1, `inl-neg-${Date.now()}`);
    await tx`select ledger_apply(${JSON.stringify(batch.items)}::text::jsonb, 24)`;
    const [row] = await tx<{ calls: number }[]>`select coalesce(sum(calls), 0)::int as calls from pg_stat_xact_user_functions where funcname = 'ledger_iso'`;
    throw Object.assign(new Error("roll back"), { calls: row!.calls });
  }).catch((error: Error & { calls?: number }) => error.calls);
  assert.ok(seen! > 0, "an IMMUTABLE helper over a STABLE body is called, not inlined");
  const [definition] = await sql<{ volatile: string }[]>`select provolatile as volatile from pg_proc where proname = 'ledger_iso'`;
  assert.equal(definition!.volatile, "s", "rolled back");
});
