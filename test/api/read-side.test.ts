/**
 * The read side through real clients and the real edge (API keys, scopes): statements, payment and
 * account lists, balances as of an instant, GetPayment by idempotency key, and VerifyLedger behind
 * the admin scope; plus the statement over plain curl (Connect JSON), as the README shows it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { createClient, Code, ConnectError } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EntryCauseKind } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { CaptureMethod, PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { testKey } from "../support/api-keys.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const reader = testKey("reader", ["read"]);
const writer = testKey("writer", ["accounts:write", "payments:write", "read"]);
const operator = testKey("operator", ["admin"]);
let svc: TestService;

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: [reader.entry, writer.entry, operator.entry].join(",") });
});
after(() => svc.stop());

describe("read side over the API", () => {
  it("lists, pages and explains an account's history", async () => {
    const { accounts, payments } = ledgerClients(transportFactories["grpc-http2"]!(svc.url, writer.key));
    const a = (await accounts.createAccount({ currency: "JPY", displayName: "Read side A" })).account!.accountId;
    const b = (await accounts.createAccount({ currency: "JPY", displayName: "Read side B" })).account!.accountId;
    await accounts.depositFunds({ idempotencyKey: "rs-dep", accountId: a, amountCents: 500n, currency: "JPY" });
    const beforePayment = new Date();
    const paid = await payments.authorizePayment({ idempotencyKey: "rs-pay", payerAccountId: a, payeeAccountId: b, amountCents: 120n, currency: "JPY", description: "tea" });

    const read = ledgerClients(transportFactories["connect-json-http1"]!(svc.url, reader.key));
    const statement = await read.accounts.listAccountEntries({ accountId: a, pageSize: 1 });
    assert.equal(statement.entries[0]!.causeKind, EntryCauseKind.DEPOSIT);
    const page2 = await read.accounts.listAccountEntries({ accountId: a, pageSize: 1, pageToken: statement.nextPageToken });
    assert.deepEqual(
      [page2.entries[0]!.amountCents, page2.entries[0]!.balanceBeforeCents, page2.entries[0]!.balanceAfterCents, page2.entries[0]!.causeId],
      [-120n, 500n, 380n, paid.payment!.paymentId],
    );
    assert.equal(page2.nextPageToken, "");

    const listed = await read.payments.listPayments({ accountId: b, statuses: [PaymentStatus.AUTHORIZED] });
    assert.deepEqual(listed.payments.map((p) => p.paymentId), [paid.payment!.paymentId]);
    const found = await payments.getPayment({ idempotencyKey: "rs-pay" }); // the client that used the key
    assert.deepEqual(found.payment, paid.payment);
    const asOf = await read.payments.getAccountBalance({ accountId: a, asOf: timestampFromDate(beforePayment) });
    assert.equal(asOf.availableBalanceCents, 500n);
    const names = await read.accounts.listAccounts({ displayNamePrefix: "Read side" });
    assert.deepEqual(names.accounts.map((x) => x.displayName), ["Read side A", "Read side B"]);

    const bad = await read.accounts.listAccountEntries({ accountId: a, pageToken: "nonsense" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(bad instanceof ConnectError);
    assert.equal(bad.code, Code.InvalidArgument);
    assert.match(bad.message, /page_token/);
  });

  it("GetAccountBalance: entry_sequence means the same now and as of an instant, revision counts every write, version keeps its two old meanings", async () => {
    const { accounts, payments } = jsonClients(svc.url, writer.key);
    const a = (await accounts.createAccount({ currency: "USD", displayName: "Versions A" })).account!.accountId;
    const b = (await accounts.createAccount({ currency: "USD", displayName: "Versions B" })).account!.accountId;
    await accounts.depositFunds({ idempotencyKey: "v-dep", accountId: a, amountCents: 500n, currency: "USD" });
    const afterDeposit = new Date();
    // A hold changes the balance row (revision) but writes no ledger entry (entry_sequence).
    await payments.authorizePayment({ idempotencyKey: "v-hold", payerAccountId: a, payeeAccountId: b, amountCents: 100n, currency: "USD", description: "", captureMethod: CaptureMethod.MANUAL });
    const now = await payments.getAccountBalance({ accountId: a });
    assert.deepEqual([now.entrySequence, now.revision, now.version], [1n, 2n, 2n]);
    const then = await payments.getAccountBalance({ accountId: a, asOf: timestampFromDate(afterDeposit) });
    assert.deepEqual([then.entrySequence, then.revision, then.version], [1n, 0n, 1n]);
  });

  it("GetPayment by idempotency key is scoped to the client that used the key", async () => {
    const other = jsonClients(svc.url, reader.key);
    const error = await other.payments.getPayment({ idempotencyKey: "rs-pay" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.NotFound);
    const both = await other.payments.getPayment({ idempotencyKey: "x", paymentId: "01HZZZZZZZZZZZZZZZZZZZZZZZ" }).catch((e: unknown) => ConnectError.from(e));
    assert.equal((both as ConnectError).code, Code.InvalidArgument);
  });

  it("VerifyLedger needs the admin scope and reports a sound ledger", async () => {
    const asReader = createClient(AdminService, transportFactories["connect-json-http1"]!(svc.url, reader.key));
    const denied = await asReader.verifyLedger({}).catch((e: unknown) => ConnectError.from(e));
    assert.equal((denied as ConnectError).code, Code.PermissionDenied);
    const asOperator = createClient(AdminService, transportFactories["grpc-http2"]!(svc.url, operator.key));
    const report = await asOperator.verifyLedger({});
    assert.equal(report.ok, true);
    assert.deepEqual(report.violations, []);
  });

  it("serves the statement to plain curl (Connect JSON)", async () => {
    const { accounts } = jsonClients(svc.url, writer.key);
    const id = (await accounts.createAccount({ currency: "EUR", displayName: "curl" })).account!.accountId;
    await accounts.depositFunds({ idempotencyKey: "rs-curl", accountId: id, amountCents: 2_500n, currency: "EUR" });
    const { stdout } = await run("curl", [
      "-sS", "-X", "POST", `${svc.url}/payment.v1.AccountService/ListAccountEntries`,
      "-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${reader.key}`,
      "-d", JSON.stringify({ accountId: id, pageSize: 10 }),
    ]);
    const body = JSON.parse(stdout) as { entries: { amountCents: string; balanceBeforeCents?: string; balanceAfterCents: string; causeKind: string }[] };
    assert.deepEqual(body.entries.map((e) => [e.amountCents, e.balanceBeforeCents ?? "0", e.balanceAfterCents, e.causeKind]), [
      ["2500", "0", "2500", "ENTRY_CAUSE_KIND_DEPOSIT"],
    ]);
  });
});
