/**
 * `payment-ledger/client` as another project gets it: `npm run pack:client` builds the tarball, a
 * scratch project installs it with npm, the packaged example runs under plain `node` (no tsx)
 * against the real service over Connect and gRPC, and TypeScript checks a consumer against the
 * shipped .d.ts files (a wrong field type is an error, so the types are real, not `any`).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import { packClient } from "../../scripts/pack-client.js";
import { testKey } from "../support/api-keys.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const key = testKey("packaged-client");
const scratch = mkdtempSync(join(tmpdir(), "ledger-client-package-"));
const tsc = resolve("node_modules/.bin/tsc");
let svc: TestService;

/** The environment of a process outside this repository: no tsx loader, nothing inherited from the test runner. */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: key.entry });
  const tarball = packClient();
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
  await run("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: scratch, env: plainEnv({}) });
});
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await svc.stop();
});

for (const protocol of ["connect", "grpc"] as const) {
  it(`the installed package's example runs under plain node (${protocol})`, async () => {
    const { stdout } = await run(process.execPath, ["node_modules/payment-ledger/examples/authorize-payment.js"], {
      cwd: scratch,
      env: plainEnv({ LEDGER_URL: svc.url, LEDGER_API_KEY: key.key, LEDGER_PROTOCOL: protocol }),
    });
    const steps = Object.fromEntries(
      stdout.trim().split("\n").map((line) => {
        const { step, ...rest } = JSON.parse(line) as { step: string };
        return [step, rest as Record<string, unknown>];
      }),
    );
    assert.deepEqual(Object.keys(steps), ["accounts", "deposit", "payment", "replay", "search", "balance"]);
    assert.equal(steps.search!.same, true);
    assert.equal(steps.payment!.status, "AUTHORIZED");
    assert.equal(steps.replay!.same, true);
    assert.equal(steps.balance!.availableBalanceCents, "2500");
  });
}

it("a TypeScript consumer type-checks against the shipped .d.ts, and a wrong field type is an error", async () => {
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, types: [] } }),
  );
  const consumer = (amount: string) => `
import { Code, ConnectError, createLedgerClient, PaymentStatus, type Payment } from "payment-ledger/client";
import { PaymentSchema } from "payment-ledger/gen/payment/v1/payment_pb.js";
const ledger = createLedgerClient({ baseUrl: "http://127.0.0.1:8080", protocol: "grpc" });
export async function pay(): Promise<Payment | undefined> {
  const { payment } = await ledger.payments.authorizePayment({ payerAccountId: "a", payeeAccountId: "b", amountCents: ${amount}, currency: "USD" });
  return payment?.status === PaymentStatus.AUTHORIZED ? payment : undefined;
}
export const retryable = (error: unknown) => ConnectError.from(error).code === Code.Unavailable;
export const schemaName: string = PaymentSchema.typeName;
`;
  writeFileSync(join(scratch, "consumer.ts"), consumer("2500n"));
  await run(tsc, ["-p", scratch], { cwd: scratch });

  writeFileSync(join(scratch, "consumer.ts"), consumer('"2500"'));
  const failed = await run(tsc, ["-p", scratch], { cwd: scratch }).then(
    () => "",
    (error: { stdout: string }) => error.stdout,
  );
  assert.match(failed, /consumer\.ts.*error TS2322: Type 'string' is not assignable to type 'bigint'/);
});
