/**
 * Traces with an in-memory exporter: a SERVER span per RPC (RPC semantic conventions) continuing
 * the caller's trace, the group-commit database call as its child, and the relay's publish as a
 * child of the request that wrote the event, whose context the Kafka message carries in its
 * `traceparent` header.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";
import { until } from "../support/until.js";
import { capturingLogger, harnessBrokers, kafkaFor, recordEvents, uniquePrefix, type EventLog } from "../relay/fixtures.js";

const exporter = new InMemorySpanExporter();
const prefix = uniquePrefix();
const { logger } = capturingLogger();
const kafka = kafkaFor(harnessBrokers(), logger);
let svc: TestService;
let events: EventLog;

before(async () => {
  svc = await startTestService({ KAFKA_BROKERS: harnessBrokers(), KAFKA_TOPIC_PREFIX: prefix }, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  events = await recordEvents(kafka, prefix, logger);
});
after(async () => {
  await events.stop();
  await svc.stop();
});

const spans = () => exporter.getFinishedSpans();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("traces", () => {
  it("a SERVER span per RPC continues the caller's traceparent, with RPC attributes and the status code", async () => {
    const response = await fetch(`${svc.url}/payment.v1.AccountService/GetAccount`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ accountId: "missing" }),
    });
    assert.equal(response.status, 404);
    await until("the GetAccount span", () => spans().some((s) => s.name === "payment.v1.AccountService/GetAccount"));
    const span = spans().find((s) => s.name === "payment.v1.AccountService/GetAccount")!;
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, TRACE_ID);
    assert.equal(parentOf(span), "00f067aa0ba902b7");
    assert.deepEqual(
      { system: span.attributes["rpc.system"], service: span.attributes["rpc.service"], method: span.attributes["rpc.method"] },
      { system: "connectrpc", service: "payment.v1.AccountService", method: "GetAccount" },
    );
    assert.equal(span.attributes["rpc.grpc.status_code"], 5, "NOT_FOUND");
    assert.equal(span.resource.attributes["service.name"], "payment-ledger");
    assert.match(String(span.resource.attributes["service.version"]), /^\d+\.\d+\.\d+/);
  });

  it("the group-commit database call is a child of the AuthorizePayment span; the publish continues the trace into Kafka", async () => {
    const { accounts } = jsonClients(svc.url);
    const payer = (await accounts.createAccount({ currency: "USD", displayName: "payer" })).account!.accountId;
    const payee = (await accounts.createAccount({ currency: "USD", displayName: "payee" })).account!.accountId;
    await accounts.depositFunds({ idempotencyKey: "d1", accountId: payer, amountCents: 500n, currency: "USD" });
    // gRPC this time: the span is the same whatever the protocol.
    const { payments } = ledgerClients(transportFactories["grpc-http2"]!(svc.url));
    const { payment } = await payments.authorizePayment(
      { idempotencyKey: "p1", payerAccountId: payer, payeeAccountId: payee, amountCents: 100n, currency: "USD" },
      { headers: { traceparent: `00-${TRACE_ID.replace(/^4/, "5")}-00f067aa0ba902b7-01` } },
    );

    await until("the AuthorizePayment and database spans", () => spans().some((s) => s.name === "ledger_apply"));
    const rpc = spans().find((s) => s.name === "payment.v1.PaymentService/AuthorizePayment")!;
    assert.equal(rpc.attributes["rpc.system"], "grpc");
    const db = spans().find((s) => s.name === "ledger_apply" && parentOf(s) === rpc.spanContext().spanId);
    assert.ok(db, "the database span's parent is the RPC span");
    assert.equal(db.kind, SpanKind.CLIENT);
    assert.equal(db.spanContext().traceId, rpc.spanContext().traceId);
    assert.equal(db.attributes["db.system.name"], "postgresql");

    await events.waitFor("the PaymentAuthorized event", (all) => all.some((e) => e.key === payment!.paymentId));
    const message = events.events.find((e) => e.key === payment!.paymentId)!;
    await until("the publish span", () => spans().some((s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.message.id"] === message.eventId));
    const publish = spans().find((s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.message.id"] === message.eventId)!;
    assert.equal(publish.name, `${prefix}.payment-authorized publish`);
    assert.equal(publish.attributes["messaging.system"], "kafka");
    assert.equal(publish.spanContext().traceId, rpc.spanContext().traceId, "the relay continues the request's trace");
    assert.equal(parentOf(publish), rpc.spanContext().spanId, "the outbox keeps the RPC span as the parent");
    const [, traceId, spanId] = message.traceparent!.split("-");
    assert.deepEqual([traceId, spanId], [publish.spanContext().traceId, publish.spanContext().spanId], "the header names the publish span");
  });
});
