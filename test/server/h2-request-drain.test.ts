/**
 * Issue 18's RST_STREAM INTERNAL_ERROR, reproduced and fixed (src/server/h2-request-drain.ts).
 *
 * The cause: a gRPC request answered before its body was read to the end (here: an unmatched
 * end-group, then 40 KiB more) kept its HTTP/2 stream in the server's table after both sides had
 * ended it; with 128 of them on one connection (the session's stream limit) the server refused
 * every new stream on it with RST_STREAM ENHANCE_YOUR_CALM, and after 100 refusals closed the
 * connection with GOAWAY INTERNAL_ERROR, so the requests in flight, whatever they were, ended
 * with code 2 and no gRPC status. Without the drain this test fails that way.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { DepositFundsRequestSchema } from "../../gen/payment/v1/account_pb.js";
import { AuthorizePaymentRequestSchema } from "../../gen/payment/v1/payment_pb.js";
import { drainHttp2RequestsAfterResponse } from "../../src/server/h2-request-drain.js";
import { jsonClients } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const AUTHORIZE = "/payment.v1.PaymentService/AuthorizePayment";
const DEPOSIT = "/payment.v1.AccountService/DepositFunds";
/** Field 1, wire type 4: an end-group tag with no group open. */
const UNMATCHED_END_GROUP = Uint8Array.from([0x0c]);

let service: TestService;
before(async () => {
  service = await startTestService();
});
after(async () => {
  await service?.stop();
});

/** A gRPC length-prefixed message. */
function frame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

interface Ending {
  grpcStatus: string;
  rstCode: number | undefined;
}

/** Sends one gRPC request on `session`; resolves when its stream is closed, however it ends. */
function grpcCall(session: http2.ClientHttp2Session, path: string, body: Buffer): Promise<Ending> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    let grpcStatus = "none";
    stream.on("response", (headers) => void (headers["grpc-status"] !== undefined && (grpcStatus = String(headers["grpc-status"]))));
    stream.on("trailers", (trailers) => void (trailers["grpc-status"] !== undefined && (grpcStatus = String(trailers["grpc-status"]))));
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () => resolve({ grpcStatus, rstCode: stream.rstCode }));
    stream.end(body);
  });
}

it("requests answered before their body was read do not use up the connection: the issue's three requests still get a gRPC status", { timeout: 120_000 }, async () => {
  const clients = jsonClients(service.url);
  const { account } = await clients.accounts.createAccount({ currency: "USD", displayName: "drain" });
  const session = http2.connect(service.url);
  session.on("error", () => {});
  try {
    // 140 answered early (invalid_argument at the first message), more than the 128 streams a
    // session may hold: each must close normally, not stay in the server's table.
    const early = frame(UNMATCHED_END_GROUP);
    const tail = Buffer.alloc(40 * 1024);
    for (let i = 0; i < 140; i++) {
      const ending = await grpcCall(session, AUTHORIZE, Buffer.concat([early, tail]));
      assert.deepEqual(ending, { grpcStatus: "3", rstCode: 0 }, `request ${i} with a 40 KiB tail`);
    }
    // Then the three requests of the issue, on the same connection.
    const unknownAccounts = create(AuthorizePaymentRequestSchema, {
      idempotencyKey: "drain-unknown",
      payerAccountId: "01JZZZZZZZZZZZZZZZZZZZZZZZ",
      payeeAccountId: "01JZZZZZZZZZZZZZZZZZZZZZZY",
      amountCents: 5n,
      currency: "USD",
    });
    const deposit = create(DepositFundsRequestSchema, { idempotencyKey: "drain-deposit", accountId: account!.accountId, amountCents: 5n, currency: "USD" });
    const endings = {
      unknownAccounts: await grpcCall(session, AUTHORIZE, frame(toBinary(AuthorizePaymentRequestSchema, unknownAccounts))),
      deposit: await grpcCall(session, DEPOSIT, frame(toBinary(DepositFundsRequestSchema, deposit))),
      unmatchedEndGroup: await grpcCall(session, AUTHORIZE, early),
    };
    assert.deepEqual(endings, {
      unknownAccounts: { grpcStatus: "5", rstCode: 0 },
      deposit: { grpcStatus: "0", rstCode: 0 },
      unmatchedEndGroup: { grpcStatus: "3", rstCode: 0 },
    });
  } finally {
    session.close();
  }
});

it("a client still sending after its answer can finish: the rest of its body is read, the stream closes", { timeout: 60_000 }, async () => {
  const session = http2.connect(service.url);
  session.on("error", () => {});
  try {
    // 3 MiB after the bad message: far over the stream's flow-control window, so the client can
    // only finish if the server keeps reading after it answered (before: open until the session's
    // 2-minute idle timeout).
    const ending = await grpcCall(session, AUTHORIZE, Buffer.concat([frame(UNMATCHED_END_GROUP), Buffer.alloc(3 * 1024 * 1024)]));
    assert.deepEqual(ending, { grpcStatus: "3", rstCode: 0 });
  } finally {
    session.close();
  }
});

it("a client that keeps sending past the bound gets RST_STREAM NO_ERROR after its answer", { timeout: 30_000 }, async () => {
  // A bare HTTP/2 server answering at the first chunk, with bounds scaled down.
  const server = http2.createServer((request, response) => {
    request.once("data", () => response.end("answered"));
  });
  drainHttp2RequestsAfterResponse(server, { maxBytes: 1024 * 1024, maxMs: 300 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on("error", () => {});
  try {
    const ending = await new Promise<{ body: string; rstCode: number | undefined }>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": "/" });
      let body = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (body += chunk));
      stream.on("error", () => {});
      // Never ends: 16 KiB every 10 ms.
      const trickle = setInterval(() => {
        if (stream.writable) stream.write(Buffer.alloc(16 * 1024));
      }, 10);
      stream.on("close", () => {
        clearInterval(trickle);
        resolve({ body, rstCode: stream.rstCode });
      });
    });
    assert.equal(ending.body, "answered");
    assert.equal(ending.rstCode, 0, "closed with NO_ERROR: the answer was complete");
  } finally {
    session.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
