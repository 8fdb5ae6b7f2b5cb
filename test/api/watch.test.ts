/**
 * Watch streams end to end: two service instances on one PostgreSQL database; changes made through
 * instance A reach watchers on instance B (LISTEN/NOTIFY), over gRPC, gRPC-Web and the Connect
 * protocol (connect-node) and through `buf curl`; a resume continues without a gap; shutdown ends
 * the streams cleanly.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/config.js";
import { startService, type RunningService } from "../../src/server/service.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { EntryCauseKind, StatementLineKind, type WatchAccountResponse } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, PaymentChangeKind, PaymentStatus, type WatchPaymentsResponse } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { EDGE_DEFAULTS, startTestService, type TestService } from "../support/service.js";
import { until } from "../support/until.js";
import { Writable } from "node:stream";

let a: TestService;
let b: RunningService;
let keySeq = 0;
const key = () => `watch-${++keySeq}`;

async function startSecondInstance(databaseUrl: string): Promise<RunningService> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", ...EDGE_DEFAULTS });
  return startService(config, createLogger(config.LOG_LEVEL, new Writable({ write: (_c, _e, done) => done() })));
}

before(async () => {
  a = await startTestService();
  b = await startSecondInstance(a.database.url);
});
after(async () => {
  await b.stop().catch(() => {});
  await a.stop();
});

/** Collects a stream's messages in the background; `done` settles when it ends. */
function collect<T>(stream: AsyncIterable<T>) {
  const messages: T[] = [];
  const done = (async () => {
    for await (const message of stream) messages.push(message);
  })();
  done.catch(() => {});
  return { messages, done };
}

async function fundedPair(currency = "USD") {
  const { accounts } = jsonClients(a.url);
  const payer = (await accounts.createAccount({ currency, displayName: "watched payer" })).account!.accountId;
  const payee = (await accounts.createAccount({ currency, displayName: "watched payee" })).account!.accountId;
  await accounts.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 1_000n, currency });
  return { payer, payee };
}

const payThroughA = (payer: string, payee: string, amountCents: bigint) =>
  jsonClients(a.url).payments.authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "" });

describe("WatchAccount", () => {
  for (const [name, transport] of Object.entries(transportFactories)) {
    it(`over ${name}: the balance at once, then every change made through another instance`, async () => {
      const { payer, payee } = await fundedPair();
      const abort = new AbortController();
      const watch = collect(ledgerClients(transport(b.url)).accounts.watchAccount({ accountId: payer }, { signal: abort.signal }));
      await until("the first message", () => watch.messages.length === 1);
      assert.equal(watch.messages[0]!.availableBalanceCents, 1_000n);
      assert.equal(watch.messages[0]!.version, 1n);
      assert.equal(watch.messages[0]!.entrySequence, 1n, "entry_sequence, the same value under its clear name");
      assert.equal(watch.messages[0]!.entry, undefined);

      const p1 = await payThroughA(payer, payee, 300n);
      const p2 = await payThroughA(payer, payee, 200n);
      await until("two changes", () => watch.messages.length === 3);
      abort.abort();
      const changes = watch.messages.slice(1) as WatchAccountResponse[];
      assert.deepEqual(
        changes.map((m) => [m.version, m.availableBalanceCents, m.entry?.amountCents, m.entry?.balanceBeforeCents, m.entry?.causeKind, m.entry?.causeId]),
        [
          [2n, 700n, -300n, 1_000n, EntryCauseKind.PAYMENT, p1.payment!.paymentId],
          [3n, 500n, -200n, 700n, EntryCauseKind.PAYMENT, p2.payment!.paymentId],
        ],
      );
    });
  }

  it("resumes after the last resume_token received without a gap or a repeat", async () => {
    const { payer, payee } = await fundedPair();
    const { accounts } = ledgerClients(transportFactories["grpc-http2"]!(b.url));
    const abort = new AbortController();
    const first = collect(accounts.watchAccount({ accountId: payer }, { signal: abort.signal }));
    await until("the first message", () => first.messages.length === 1);
    await payThroughA(payer, payee, 1n);
    await until("one change", () => first.messages.length === 2);
    abort.abort();
    const lastVersion = first.messages.at(-1)!.version;
    const resumeToken = first.messages.at(-1)!.resumeToken;

    for (let i = 0; i < 3; i++) await payThroughA(payer, payee, 10n); // while disconnected
    const abort2 = new AbortController();
    const resumed = collect(accounts.watchAccount({ accountId: payer, resumeToken }, { signal: abort2.signal }));
    await until("the missed changes", () => resumed.messages.length === 4);
    abort2.abort();
    assert.equal(resumed.messages[0]!.version, lastVersion);
    assert.equal(resumed.messages[0]!.availableBalanceCents, 999n);
    assert.deepEqual(resumed.messages.slice(1).map((m) => m.version), [lastVersion + 1n, lastVersion + 2n, lastVersion + 3n]);
    assert.equal(resumed.messages.at(-1)!.availableBalanceCents, 969n);
  });

  it("streams hold movements: a manual authorization, a partial capture and its release, with honest balances", async () => {
    const { payer, payee } = await fundedPair();
    const { accounts } = ledgerClients(transportFactories["connect-binary-http2"]!(b.url));
    const abort = new AbortController();
    const watch = collect(accounts.watchAccount({ accountId: payer }, { signal: abort.signal }));
    await until("the first message", () => watch.messages.length === 1);
    const { payments } = jsonClients(a.url);
    const held = await payments.authorizePayment({
      idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 400n, currency: "USD", description: "", captureMethod: CaptureMethod.MANUAL,
    });
    const paymentId = held.payment!.paymentId;
    await until("the hold", () => watch.messages.length === 2);
    await payments.capturePayment({ idempotencyKey: key(), paymentId, amountCents: 150n });
    // A capture releases the whole hold and then moves the captured part: two lines.
    await until("the release and the capture", () => watch.messages.length === 4);
    abort.abort();
    assert.deepEqual(
      watch.messages.map((m) => [m.entry?.kind, m.entry?.causeKind, m.entry?.causeId ?? "", m.entry?.amountCents, m.availableBalanceCents, m.heldBalanceCents, m.ledgerBalanceCents]),
      [
        [undefined, undefined, "", undefined, 1_000n, 0n, 1_000n],
        [StatementLineKind.HELD, EntryCauseKind.PAYMENT, paymentId, -400n, 600n, 400n, 1_000n],
        [StatementLineKind.RELEASED, EntryCauseKind.PAYMENT, paymentId, 400n, 1_000n, 0n, 1_000n],
        [StatementLineKind.ENTRY, EntryCauseKind.CAPTURE, paymentId, -150n, 850n, 0n, 850n],
      ],
    );
    assert.equal((await jsonClients(a.url).payments.getAccountBalance({ accountId: payer })).availableBalanceCents, 850n);
  });

  it("refuses an unknown account with NOT_FOUND", async () => {
    const stream = jsonClients(b.url).accounts.watchAccount({ accountId: "no-such-account" });
    await assert.rejects(collect(stream).done, (error: Error & { code?: number }) => error.code === 5 && /does not exist/.test(error.message));
  });

  it("streams through buf curl (server streaming over gRPC, reflection, no local schema)", async () => {
    const { payer, payee } = await fundedPair();
    const child = spawn("node_modules/.bin/buf", [
      "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", JSON.stringify({ accountId: payer }),
      `${b.url}/payment.v1.AccountService/WatchAccount`,
    ]);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    try {
      await until("buf curl's first message", () => out.includes('"availableBalanceCents": "1000"'), { detail: () => out });
      await payThroughA(payer, payee, 250n);
      await until("buf curl's change message", () => out.includes('"availableBalanceCents": "750"'), { detail: () => out });
      assert.match(out, /"causeKind": "ENTRY_CAUSE_KIND_PAYMENT"/);
    } finally {
      child.kill();
    }
  });
});

describe("WatchPayments", () => {
  it("streams every step of the account's payments made through another instance, declines included, and resumes by token", async () => {
    const { payer, payee } = await fundedPair();
    const api = jsonClients(a.url).payments;
    const { payments } = ledgerClients(transportFactories["connect-json-http1"]!(b.url));
    const abort = new AbortController();
    const watch = collect(payments.watchPayments({ accountId: payer }, { signal: abort.signal }));
    const payeeAbort = new AbortController();
    const payeeWatch = collect(payments.watchPayments({ accountId: payee }, { signal: payeeAbort.signal }));
    // The stream sends nothing until a step: wait until the server holds both subscriptions.
    await until("the subscriptions", async () => {
      await payThroughA(payer, payee, 1n);
      return watch.messages.length > 0 && payeeWatch.messages.length > 0;
    });
    // Warm-up payments (of 1 cent) may still be arriving; none of the steps below is of 1 cent.
    const after = (messages: WatchPaymentsResponse[]) => messages.filter((m) => m.payment!.amountCents !== 1n);

    const hold = (amountCents: bigint) =>
      api.authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "", captureMethod: CaptureMethod.MANUAL });
    const held = (await hold(300n)).payment!;
    await api.capturePayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 200n });
    await api.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 50n, reason: "" });
    const declined = (await payThroughA(payer, payee, 1_000_000n)).payment!;
    const other = (await hold(100n)).payment!;
    await api.voidPayment({ idempotencyKey: key(), paymentId: other.paymentId });

    const expected = [
      [held.paymentId, PaymentChangeKind.REQUIRES_CAPTURE, 300n],
      [held.paymentId, PaymentChangeKind.CAPTURED, 200n],
      [held.paymentId, PaymentChangeKind.REFUNDED, 50n],
      [declined.paymentId, PaymentChangeKind.DECLINED, 1_000_000n],
      [other.paymentId, PaymentChangeKind.REQUIRES_CAPTURE, 100n],
      [other.paymentId, PaymentChangeKind.VOIDED, 100n],
    ];
    const steps = (messages: WatchPaymentsResponse[]) => messages.map((m) => [m.payment!.paymentId, m.change!.kind, m.change!.amountCents]);
    await until("six steps on the payer's watch", () => after(watch.messages as WatchPaymentsResponse[]).length >= 6);
    await until("six steps on the payee's watch", () => after(payeeWatch.messages as WatchPaymentsResponse[]).length >= 6);
    abort.abort();
    payeeAbort.abort();
    const seen = after(watch.messages as WatchPaymentsResponse[]);
    assert.deepEqual(steps(seen), expected);
    assert.deepEqual(steps(after(payeeWatch.messages as WatchPaymentsResponse[])), expected, "the payee sees them too");
    assert.equal(seen[3]!.payment!.status, PaymentStatus.DECLINED);
    // Each message carries the payment as it was read, at or after its step: the refund step shows it.
    assert.equal(seen[2]!.payment!.refundedCents, 50n);

    // Resume from the middle: the rest, without gap or repeat, and what happened meanwhile.
    const missed = (await payThroughA(payer, payee, 2n)).payment!;
    const abort2 = new AbortController();
    const resumed = collect(payments.watchPayments({ accountId: payer, resumeToken: seen[2]!.resumeToken }, { signal: abort2.signal }));
    await until("the rest and the missed payment", () => resumed.messages.length === 4);
    abort2.abort();
    assert.deepEqual(steps(resumed.messages as WatchPaymentsResponse[]), [...expected.slice(3), [missed.paymentId, PaymentChangeKind.AUTHORIZED, 2n]]);
  });

  it("sees every step once, in order, when resumed while two instances write to the account concurrently", async () => {
    const { accounts } = jsonClients(a.url);
    const hot = (await accounts.createAccount({ currency: "USD", displayName: "hot" })).account!.accountId;
    const others: string[] = [];
    for (let i = 0; i < 4; i++) others.push((await accounts.createAccount({ currency: "USD", displayName: `other ${i}` })).account!.accountId);
    for (const account of [hot, ...others]) {
      await accounts.depositFunds({ idempotencyKey: key(), accountId: account, amountCents: 100_000n, currency: "USD" });
    }
    const { payments } = ledgerClients(transportFactories["connect-json-http1"]!(b.url));
    const abort = new AbortController();
    const first = collect(payments.watchPayments({ accountId: hot }, { signal: abort.signal }));
    const writers = [jsonClients(a.url).payments, jsonClients(b.url).payments];
    const expected: string[] = [];
    // The watch starts at the account's newest step when the server reads it: wait until it has
    // seen one payment, then every later step must arrive.
    await until("the watch", async () => {
      const warmUp = (await writers[0]!.authorizePayment({ idempotencyKey: key(), payerAccountId: others[0]!, payeeAccountId: hot, amountCents: 1n,
        currency: "USD", description: "" })).payment!;
      expected.push(`${warmUp.paymentId}:${PaymentChangeKind.AUTHORIZED}`);
      return first.messages.length > 0;
    });
    const seenFirst = (first.messages[0] as WatchPaymentsResponse).payment!.paymentId;
    expected.splice(0, expected.findIndex((step) => step.startsWith(`${seenFirst}:`)));
    let resumed: ReturnType<typeof collect<WatchPaymentsResponse>> | undefined;
    const abort2 = new AbortController();
    await Promise.all(writers.map(async (api, w) => {
      for (let i = 0; i < 30; i++) {
        const other = others[(i + w) % others.length]!;
        const [payer, payee] = i % 2 === 0 ? [hot, other] : [other, hot];
        const manual = i % 3 === 0;
        const payment = (await api.authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: BigInt(10 + i),
          currency: "USD", description: "", captureMethod: manual ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC })).payment!;
        expected.push(`${payment.paymentId}:${manual ? PaymentChangeKind.REQUIRES_CAPTURE : PaymentChangeKind.AUTHORIZED}`);
        if (manual) {
          await api.capturePayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: 0n });
          expected.push(`${payment.paymentId}:${PaymentChangeKind.CAPTURED}`);
        }
        // Halfway through, the first watch stops and a new one resumes from its last token.
        if (w === 0 && i === 15) {
          await until("some steps on the first watch", () => first.messages.length >= 10);
          abort.abort();
          await first.done.catch(() => {});
          const last = first.messages.at(-1) as WatchPaymentsResponse;
          resumed = collect(payments.watchPayments({ accountId: hot, resumeToken: last.resumeToken }, { signal: abort2.signal }));
        }
      }
    }));
    const seen = () => [...first.messages, ...(resumed?.messages ?? [])] as WatchPaymentsResponse[];
    await until("every step", () => seen().length >= expected.length);
    abort2.abort();
    const steps = seen().map((m) => `${m.payment!.paymentId}:${m.change!.kind}`);
    assert.equal(new Set(steps).size, steps.length, "no step repeated");
    assert.deepEqual([...steps].sort(), [...expected].sort(), "no step skipped");
    for (const [i, step] of steps.entries()) {
      if (step.endsWith(`:${PaymentChangeKind.CAPTURED}`)) {
        const held = steps.indexOf(step.replace(/:\d+$/, `:${PaymentChangeKind.REQUIRES_CAPTURE}`));
        assert.ok(held >= 0 && held < i, "a capture comes after its hold");
      }
    }
  });

  it("refuses a resume token of the earlier format, or no token at all", async () => {
    const { payer } = await fundedPair();
    const { payments } = ledgerClients(transportFactories["connect-json-http1"]!(b.url));
    const oldFormat = Buffer.from(JSON.stringify({ f: "x", k: ["1700000000000000", "01ARZ3NDEKTSV4RRFFQ69G5FAV"] })).toString("base64url");
    for (const resumeToken of [oldFormat, "not a token"]) {
      await assert.rejects(
        (async () => {
          for await (const _ of payments.watchPayments({ accountId: payer, resumeToken })) break;
        })(),
        (error: { code?: number; rawMessage?: string }) => error.code === 3 && /resume_token/.test(error.rawMessage ?? ""),
      );
    }
  });
});

describe("shutdown", () => {
  it("ends open watch streams cleanly", async () => {
    const { payer } = await fundedPair();
    const watch = collect(ledgerClients(transportFactories["grpc-http2"]!(b.url)).accounts.watchAccount({ accountId: payer }));
    await until("the first message", () => watch.messages.length === 1);
    const started = Date.now();
    await b.stop();
    await watch.done; // resolves: the stream ended without an error
    assert.ok(Date.now() - started < 10_000, "stop did not wait for the stream's deadline");
  });
});
