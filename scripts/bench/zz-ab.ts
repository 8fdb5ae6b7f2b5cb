// scratch A/B: backend CPU per ledger_apply call for two versions of the ledger SQL files (A_DIR, B_DIR)
import postgres from "postgres";
import { randomInt } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { makeDurable, startBackingService } from "./backing-services.js";
import { seedAccountsInSql } from "./seed.js";
const N = Number(process.env.N ?? 1000), ITEMS = Number(process.env.ITEMS ?? 1), R = Number(process.env.R ?? 3);
const dirs = [process.env.A_DIR!, process.env.B_DIR!];
const cpu = (pid: number) => { const t = readFileSync(`/proc/${pid}/stat`, "utf8"); const f = t.slice(t.lastIndexOf(")") + 2).split(" ").map(Number); return (f[11]! + f[12]!) * 10; };
const svc = startBackingService("postgres");
try {
  const url = svc.value;
  await makeDurable(svc);
  const handle = await openDatabase({ url, poolSize: 2, pgliteDataDir: "" });
  await runMigrations(handle);
  await handle.close();
  await seedAccountsInSql(url, "bench-", 1000, 10n ** 12n);
  const at = new Date().toISOString();
  let g = 0;
  const item = () => { g++;
    const payer = 1 + randomInt(1000); const other = 1 + randomInt(999); const payee = other >= payer ? other + 1 : other;
    return { kind: "authorize", clientId: "bench", key: `k${g}`, method: "AuthorizePayment", requestHash: `h${g}`, paymentId: `p${g}`,
      payerAccountId: `bench-${payer}`, payeeAccountId: `bench-${payee}`, amountCents: String(1 + randomInt(100)),
      currency: "EUR", description: "bench", captureMethod: "AUTOMATIC", holdExpiresAt: null, at, eventId: `e${g}`, traceparent: null };
  };
  const res: number[][] = [[], []];
  for (let r = 0; r < R; r++) for (const v of [0, 1]) {
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    for (const f of readdirSync(dirs[v]!).sort()) await admin.unsafe(readFileSync(join(dirs[v]!, f), "utf8"));
    await admin.end();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const [{ pid }] = await sql`select pg_backend_pid() as pid` as any;
    for (let i = 0; i < 30; i++) await sql.unsafe(`select ledger_apply($1::text::jsonb, 24)`, [JSON.stringify(Array.from({ length: ITEMS }, item))]);
    const c0 = cpu(pid);
    for (let i = 0; i < N; i++) await sql.unsafe(`select ledger_apply($1::text::jsonb, 24)`, [JSON.stringify(Array.from({ length: ITEMS }, item))]);
    res[v]!.push(((cpu(pid) - c0) * 1000) / (N * ITEMS));
    await sql.end();
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(`A ${res[0]!.map((x) => x.toFixed(0)).join(" ")} µs CPU/item; B ${res[1]!.map((x) => x.toFixed(0)).join(" ")}; B/A median ${(med(res[1]!) / med(res[0]!)).toFixed(3)}`);
} finally { svc.stop(); }
