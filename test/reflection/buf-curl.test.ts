/**
 * `buf curl` (the real CLI from @bufbuild/buf) against the running server, with no local schema:
 * everything it knows comes from server reflection, over the Connect and the gRPC protocol.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { testKey } from "../support/api-keys.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const key = testKey("buf-curl");
let svc: TestService;

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: key.entry });
});
after(() => svc.stop());

/** Cleartext gRPC needs HTTP/2 with prior knowledge; Connect is also tried over plain HTTP/1.1. */
const PROTOCOLS: Record<string, string[]> = {
  "connect over HTTP/1.1": ["--protocol", "connect"],
  "connect over h2c": ["--protocol", "connect", "--http2-prior-knowledge"],
  "grpc over h2c": ["--protocol", "grpc", "--http2-prior-knowledge"],
};

async function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("node_modules/.bin/buf", ["curl", ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

for (const [name, flags] of Object.entries(PROTOCOLS)) {
  it(`${name}: lists services and calls methods through reflection`, async () => {
    const listed = await bufCurl([...flags, "--list-services", svc.url]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n"), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "payment.v1.AccountService",
      "payment.v1.AdminService",
      "payment.v1.PaymentService",
    ]);
    const methods = await bufCurl([...flags, "--list-methods", svc.url]);
    assert.match(methods.stdout, /^payment\.v1\.PaymentService\/AuthorizePayment$/m);

    const created = await bufCurl([
      ...flags,
      "-H", `Authorization: Bearer ${key.key}`,
      "-d", JSON.stringify({ currency: "CHF", display_name: `via ${name}` }),
      `${svc.url}/payment.v1.AccountService/CreateAccount`,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const { account } = JSON.parse(created.stdout) as { account: { accountId: string; displayName: string } };
    assert.equal(account.displayName, `via ${name}`);

    const balance = await bufCurl([
      ...flags,
      "--emit-defaults",
      "-H", `Authorization: Bearer ${key.key}`,
      "-d", JSON.stringify({ account_id: account.accountId }),
      `${svc.url}/payment.v1.PaymentService/GetAccountBalance`,
    ]);
    assert.equal(balance.code, 0, balance.stderr);
    assert.deepEqual(JSON.parse(balance.stdout).availableBalanceCents, "0");
  });
}

for (const version of ["grpc-v1", "grpc-v1alpha"]) {
  it(`reflection ${version} alone is enough`, async () => {
    const health = await bufCurl([
      "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", version,
      `${svc.url}/grpc.health.v1.Health/Check`,
    ]);
    assert.equal(health.code, 0, health.stderr);
    assert.deepEqual(JSON.parse(health.stdout), { status: "SERVING" });
  });
}

it("API errors come back as Connect errors with their details, and without a key as unauthenticated", async () => {
  const missing = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "-d", '{"account_id":"x"}', `${svc.url}/payment.v1.PaymentService/GetAccountBalance`]);
  // buf curl exits with the gRPC code shifted left by three bits, and prints the error on stderr.
  assert.equal(missing.code, 16 << 3);
  assert.match(missing.stderr, /"code": "unauthenticated"/);
  const notFound = await bufCurl([
    "--protocol", "connect", "-H", `Authorization: Bearer ${key.key}`, "-d", '{"account_id":"nobody"}',
    `${svc.url}/payment.v1.PaymentService/GetAccountBalance`,
  ]);
  assert.equal(notFound.code, 5 << 3);
  const error = JSON.parse(notFound.stderr) as { code: string; details: { debug: { code: string } }[] };
  assert.equal(error.code, "not_found");
  assert.equal(error.details[0]?.debug.code, "ACCOUNT_NOT_FOUND", "the server's JSON rendering of the ErrorDetail (Connect protocol)");
  // Over gRPC the detail arrives as bytes (grpc-status-details-bin): buf curl decodes only types
  // compiled into it, not those reflection serves, so it prints the type and base64 (README).
  const overGrpc = await bufCurl([
    "--protocol", "grpc", "--http2-prior-knowledge", "-H", `Authorization: Bearer ${key.key}`, "-d", '{"account_id":"nobody"}',
    `${svc.url}/payment.v1.PaymentService/GetAccountBalance`,
  ]);
  const grpcError = JSON.parse(overGrpc.stderr) as { details: { type: string; value: string }[] };
  assert.equal(grpcError.details[0]?.type, "payment.v1.ErrorDetail");
  const detail = fromBinary(ErrorDetailSchema, Buffer.from(grpcError.details[0]!.value, "base64"));
  assert.deepEqual([detail.code, detail.field], ["ACCOUNT_NOT_FOUND", "account_id"]);
});
