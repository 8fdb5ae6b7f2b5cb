/**
 * `npm run bench:write-amplification`: what each index and trigger on the hot tables costs per
 * payment. On a durable throwaway cluster, one database per variant (copied from a migrated,
 * seeded template): the full schema, then each secondary index or trigger dropped alone. Per
 * variant, single-item ledger_apply calls (the per-item path) and 1,000-item calls (the set path),
 * each measured as
 *   - WAL bytes per payment (pg_current_wal_insert_lsn before and after; nothing else writes to the
 *     cluster meanwhile): the write amplification itself, exact and the same under any load;
 *   - backend CPU µs per payment (/proc of the one backend running the calls): indicative, noisy
 *     on shared cores.
 * The difference to the full schema is what the index or trigger costs. docs/write-path.md names the
 * query or invariant each one serves. Settings: BENCH_SINGLE_CALLS (default 400), BENCH_BATCH_CALLS
 * (default 4), BENCH_VARIANTS (comma-separated variant names: only those, e.g. "full schema,payments_metadata_idx"),
 * BENCH_METADATA=1 (every payment carries two metadata pairs, {"order": unique, "shop": one of 100}).
 */
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { makeDurable, startBackingService } from "./backing-services.js";
import { seedAccountsInSql } from "./seed.js";

const ACCOUNTS = 1_000;
const singleCalls = Number(process.env.BENCH_SINGLE_CALLS ?? 400);
const batchCalls = Number(process.env.BENCH_BATCH_CALLS ?? 4);
const withMetadata = process.env.BENCH_METADATA === "1";

/** What is dropped in each variant (null: the full schema). */
const VARIANTS: { name: string; drop: string | null }[] = [
  { name: "full schema", drop: null },
  ...[
    "ledger_entries_account_line_idx",
    "ledger_entries_account_time_idx",
    "hold_movements_account_line_idx",
    "hold_movements_account_time_idx",
    "payments_payer_idx",
    "payments_payee_idx",
    "payments_created_idx",
    "payments_metadata_idx",
    "payment_transitions_payer_step_idx",
    "payment_transitions_payee_step_idx",
    "payment_states_open_holds_idx",
    "idempotency_keys_expires_idx",
    "outbox_pending_idx",
    "outbox_pending_aggregate_idx",
  ].map((index) => ({ name: index, drop: `drop index ${index}` })),
  { name: "outbox_event_id_unique", drop: "alter table outbox drop constraint outbox_event_id_unique" },
  { name: "trigger outbox_notify", drop: "drop trigger outbox_notify on outbox" },
];

function backendCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ").map(Number);
  return (fields[11]! + fields[12]!) * 10;
}

/** `calls` calls of ledger_apply with `items` authorizations each (distinct payer and payee, all funded). */
async function measure(url: string, items: number, calls: number): Promise<{ walBytes: number; cpuUs: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    const call = (tag: string) => sql`
      select ledger_apply((select jsonb_agg(jsonb_build_object('kind', 'authorize', 'clientId', 'wa', 'key', ${tag} || '-' || g,
          'method', 'AuthorizePayment', 'requestHash', 'h', 'paymentId', ${tag} || '-' || g,
          'payerAccountId', 'wa-' || (1 + (g * 7) % ${ACCOUNTS / 2}), 'payeeAccountId', 'wa-' || (${ACCOUNTS} - (g * 13) % ${ACCOUNTS / 2}),
          'amountCents', '5', 'currency', 'EUR', 'description', 'bench', 'captureMethod', 'AUTOMATIC', 'holdExpiresAt', null,
          'at', ledger_iso(now()), 'eventId', 'e-' || ${tag} || '-' || g, 'traceparent', null,
          'metadata', case when ${withMetadata} then jsonb_build_object('order', ${tag} || '-' || g, 'shop', 's-' || (g % 100)) else '{}' end))
        from generate_series(1, ${items}) g), 24)`;
    await call(`warm-${items}`);
    const [{ lsn: before }] = (await sql`select pg_current_wal_insert_lsn()::text as lsn`) as unknown as [{ lsn: string }];
    const cpuBefore = backendCpuMs(pid);
    for (let i = 0; i < calls; i++) await call(`r${items}-${i}`);
    const cpuMs = backendCpuMs(pid) - cpuBefore;
    const [{ bytes }] = (await sql`select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${before}::pg_lsn)::bigint::text as bytes`) as unknown as [{ bytes: string }];
    return { walBytes: Number(bytes) / (items * calls), cpuUs: (cpuMs * 1000) / (items * calls) };
  } finally {
    await sql.end();
  }
}

async function main(): Promise<void> {
  const cluster = startBackingService("postgres");
  try {
    await makeDurable(cluster);
    const admin = postgres(cluster.value, { max: 1, onnotice: () => {} });
    const urlOf = (name: string) => Object.assign(new URL(cluster.value), { pathname: `/${name}` }).toString();
    await admin.unsafe("create database wa_template");
    const handle = await openDatabase({ url: urlOf("wa_template"), poolSize: 2, pgliteDataDir: "" });
    await runMigrations(handle);
    await handle.close();
    await seedAccountsInSql(urlOf("wa_template"), "wa-", ACCOUNTS, 10n ** 12n);
    console.log(`${singleCalls} calls of 1 item, ${batchCalls} calls of 1,000 items per variant; durable PostgreSQL; metadata: ${withMetadata ? "2 pairs per payment" : "none"}`);
    console.log("variant                               WAL B/pay x1  CPU µs x1   WAL B/pay x1000  CPU µs x1000   WAL saved x1  WAL saved x1000");
    let base: { single: { walBytes: number }; batch: { walBytes: number } } | undefined;
    const only = process.env.BENCH_VARIANTS?.split(",");
    for (const [i, variant] of VARIANTS.entries()) {
      if (only && !only.includes(variant.name)) continue;
      const name = `wa_${i}`;
      await admin.unsafe(`create database ${name} template wa_template`);
      const url = urlOf(name);
      if (variant.drop) {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        await sql.unsafe(variant.drop);
        await sql.end();
      }
      const single = await measure(url, 1, singleCalls);
      const batch = await measure(url, 1_000, batchCalls);
      base ??= { single, batch };
      const saved = (now: number, then: number) => (variant.drop ? `${(then - now).toFixed(0)} B` : "");
      console.log(
        `${variant.name.padEnd(36)} ${single.walBytes.toFixed(0).padStart(13)} ${single.cpuUs.toFixed(0).padStart(10)} ${batch.walBytes.toFixed(0).padStart(16)} ${batch.cpuUs.toFixed(0).padStart(13)} ${saved(single.walBytes, base.single.walBytes).padStart(13)} ${saved(batch.walBytes, base.batch.walBytes).padStart(16)}`,
      );
      await admin.unsafe(`drop database ${name}`);
    }
    await admin.end();
  } finally {
    cluster.stop();
  }
}

await main();
